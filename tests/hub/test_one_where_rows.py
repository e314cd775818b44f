"""hub.db.one_where builds its row without peewee's query objects: the same instance peewee's get_or_none makes."""

from __future__ import annotations

from hub.db import one_by, one_where
from hub.models import Batch, Case, Node, Village
from tests.hub.test_sync_api import captured


def _same(ours: object, peewee_row: object) -> None:
    assert type(ours) is type(peewee_row)
    assert ours.__data__ == peewee_row.__data__  # type: ignore[attr-defined]
    assert list(ours.__data__) == list(peewee_row.__data__)  # type: ignore[attr-defined]
    assert not ours._dirty  # type: ignore[attr-defined]
    for name, value in ours.__data__.items():  # type: ignore[attr-defined]
        assert type(value) is type(peewee_row.__data__[name]), name  # type: ignore[attr-defined]


def test_rows_read_by_one_where_are_those_peewee_reads(sim) -> None:
    ev = captured(sim, "JF-01")
    sim.send(sim.events(ev))
    node = Node.get()
    case = Case.get_by_id(ev[1])
    batch = Batch.get()
    # Every column kind the hub stores: text, integers, dates and date-times, JSON, a key, nulls.
    for ours, theirs in (
        (one_by(Node.node_id, node.node_id), Node.get_or_none(Node.node_id == node.node_id)),
        (one_by(Village.id, node.village_id), Village.get_or_none(Village.id == node.village_id)),
        (one_by(Case.receipt_code, case.receipt_code), Case.get_or_none(Case.receipt_code == case.receipt_code)),
        (
            one_where((Batch.node, node.node_id), (Batch.first_seq, batch.first_seq)),
            Batch.get_or_none((Batch.node == node.node_id) & (Batch.first_seq == batch.first_seq)),
        ),
    ):
        _same(ours, theirs)
    # Read a second time (the row's shape is kept per statement), and a row that is not there.
    _same(one_by(Case.receipt_code, case.receipt_code), case)
    assert one_by(Case.receipt_code, "NOPE") is None


def test_a_row_read_by_one_where_saves_only_what_is_changed(sim) -> None:
    ev = captured(sim, "JF-01")
    sim.send(sim.events(ev))
    case = one_by(Case.request_id, ev[1])
    case.urgency = "red"
    assert case.dirty_fields == [Case.urgency]
    case.save()
    assert Case.get_by_id(ev[1]).urgency == "red"
