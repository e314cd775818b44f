"""Fewer round trips on PostgreSQL, the same transactions (hub/db.py, and the sync path that uses it).

A transaction's BEGIN is held until its first statement and sent with it; `pipelined` sends a
block's statements without waiting for each answer. Either way each statement still runs inside
the transaction the caller opened, a failure undoes all of it and is raised as peewee's exception,
and the connection is left idle for the next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import peewee
import psycopg
import pytest

from hub import catalogue_store, duplicates, metrics, routing, settings
from hub.clock import now
from hub.db import database, one_where, one_where_sent, pipelined
from hub.models import Case, Node, Setting, Staff, SyncStat, Village
from shared.bulk_rows import insert_rows
from tests.hub.case_rows import case_row, hub_with_a_node

pytestmark = pytest.mark.pg

IDLE, INTRANS = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS


@pytest.fixture
def pg_hub(pg_url: str) -> Iterator[None]:
    with hub_with_a_node(pg_url):
        yield


def _ours() -> list[tuple[str, str]]:
    """The settings these tests wrote (migrate writes its own)."""
    return [(s.key, s.value) for s in Setting.select().where(Setting.key.startswith("t.")).order_by(Setting.key)]


def _status() -> psycopg.pq.TransactionStatus:
    return database.obj._state.conn.info.transaction_status


class Undo(Exception):
    pass


def test_begin_goes_with_the_first_statement_and_the_transaction_holds(pg_hub: None) -> None:
    with pytest.raises(Undo), database.atomic():
        assert _status() == IDLE  # nothing sent yet
        Setting.create(key="t.a", value="1")
        assert _status() == INTRANS  # BEGIN went first, with it
        Setting.create(key="t.b", value="2")
        raise Undo
    assert _ours() == []  # both undone: the first statement was inside the transaction
    with database.atomic():
        Setting.create(key="t.a", value="1")
    assert _ours() == [("t.a", "1")]
    assert _status() == IDLE


def test_a_transaction_that_runs_nothing_sends_nothing(pg_hub: None) -> None:
    with database.atomic():
        pass
    assert _status() == IDLE
    with pytest.raises(Undo), database.atomic():
        raise Undo
    assert _status() == IDLE
    assert not database.in_transaction()
    Setting.create(key="t.after", value="x")
    assert Setting.get(Setting.key == "t.after").value == "x"


def test_a_failing_first_statement_raises_peewee_s_error_and_undoes_the_transaction(pg_hub: None) -> None:
    Setting.create(key="t.taken", value="1")
    with pytest.raises(peewee.IntegrityError), database.atomic():
        Setting.create(key="t.taken", value="2")
    assert _status() == IDLE
    assert Setting.get(Setting.key == "t.taken").value == "1"


def test_a_copy_as_first_statement_is_inside_the_transaction(pg_hub: None) -> None:
    with pytest.raises(Undo), database.atomic():
        # Two rows: COPY (insert_rows' way for several), on a cursor of the caller's own.
        insert_rows(database.obj.cursor(), Setting, ("key", "value"), [("t.c1", "x"), ("t.c2", "y")], mark="%s")
        assert _status() == INTRANS
        raise Undo
    assert _ours() == []


def test_pipelined_statements_read_what_the_block_wrote(pg_hub: None) -> None:
    with database.atomic(), pipelined():
        assert database.obj._state.conn.pgconn.pipeline_status  # sent without waiting for each answer
        Setting.create(key="t.p", value="1")
        Setting.update(value="2").where(Setting.key == "t.p").execute()
        assert Setting.get(Setting.key == "t.p").value == "2"
    assert database.obj._state.conn.pgconn.pipeline_status == 0
    assert Setting.get(Setting.key == "t.p").value == "2"


def test_a_pipelined_failure_is_peewee_s_error_and_leaves_nothing(pg_hub: None) -> None:
    Setting.create(key="t.taken", value="1")
    # Outside any transaction of the caller's, as metrics.record_sync uses it: its own, undone.
    with pytest.raises(peewee.IntegrityError), pipelined(), database.atomic():
        Setting.create(key="t.new", value="1")
        # Refused; nothing reads its answer, so the error comes at the end of the block.
        database.execute_sql('INSERT INTO "setting" ("key", "value") VALUES (%s, %s)', ("t.taken", "2"))
    assert _status() == IDLE
    assert not database.in_transaction()
    assert _ours() == [("t.taken", "1")]


def test_the_sync_counter_still_counts(pg_hub: None) -> None:
    metrics.record_sync(200, 0.01)
    metrics.record_sync(200, 0.01)
    (row,) = SyncStat.select()
    assert (row.status, row.count) == (200, 2)
    assert _status() == IDLE


# What psycopg waits on for the server's answer (bench/pg_ingest.py counts the same): a statement
# outside pipeline mode, a COPY's start and end, a read or the end of a pipeline.
ROUND_TRIPS = ("BaseCursor._start_copy_gen", "copy_end", "BasePipeline._exit_gen", "BasePipeline._fetch_gen")


def _waits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each round trip from now on, by what psycopg waited for."""
    waits: list[str] = []
    wait = psycopg.Connection.wait

    def counted(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(gen, "__qualname__", "") or getattr(gen, "__name__", "")
        if name in ROUND_TRIPS or (name == "BaseCursor._execute_gen" and not self._pipeline):
            waits.append(name)
        return wait(self, gen, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "wait", counted)
    return waits


def test_reads_sent_in_a_pipeline_are_what_they_read_alone_in_one_round_trip(
    pg_hub: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    Setting.create(key="t.k", value="v")
    Staff.create(username="li", name="李", password_hash="x", windows=["W01"], created_at=now())
    Case.create(**case_row("A1", id_number="110", item_code="x"))
    alone = (
        one_where((Node.node_id, "n1")).__data__,
        one_where((Village.id, 1)).__data__,
        settings.get("t.k"),
        catalogue_store.current(),
        [s.__data__ for s in routing.active_staff()],
        duplicates.known(["e1"], ["r-A1", "r-B"], ["A1"], [("110", "x")]),
    )
    waits = _waits(monkeypatch)
    with database.atomic():
        with pipelined():
            node = one_where_sent((Node.node_id, "n1"), for_update=True)
            village = one_where_sent((Village.id, 1))
            missing = one_where_sent((Village.id, 99))
            value = settings.get_sent("t.k")
            in_force = catalogue_store.current_sent()
            staff = routing.active_staff_sent()
            held = duplicates.known_sent(["e1"], ["r-A1", "r-B"], ["A1"], [("110", "x")])
        assert len(waits) == 1  # the BEGIN and the seven statements: one wait, at the block's end
        together = (
            node().__data__,
            village().__data__,
            value(),
            in_force(),
            [s.__data__ for s in staff()],
            held(),
        )
        assert missing() is None
        assert len(waits) == 1  # read from what that wait brought back
        assert _status() == INTRANS
    assert together == alone
    assert together[3] is alone[3]  # the catalogue kept, not decoded again


def test_a_batch_s_sync_waits_on_the_database_a_bounded_number_of_times(
    pg_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub import create_app
    from hub.enrolment import issue_code
    from hub.schema import migrate
    from shared import protocol
    from shared.receipt_codes import new_code
    from tests.factories import capture
    from tests.nodesim import NodeSim

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "DATABASE_URL": pg_url, "SECRET_KEY": "x"})
    with database.connection_context():
        migrate()
        code = issue_code("桃源村")
    sim = NodeSim(app.test_client(), code)

    def captures(n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            data = capture("JF-01")
            data["receipt_code"], data["catalogue_version"] = new_code(sim.prefix), 1
            out.append(("request.captured", protocol.new_id(), data))
        return sim.events(*out)

    assert sim.send(captures(3))["ack"]["accepted"] == 3  # the first: connections and caches warmed
    waits = _waits(monkeypatch)
    assert sim.send(captures(20))["ack"]["accepted"] == 20
    # The kept connection's check and the node's row (2), the reads ahead (1), the transaction's head
    # (1), the batch's look-ups (1), three COPYs (2 each), the tail (the audit chain's head, then the
    # COMMIT: 2), the answer's reads (1), the sync counter (1): 15 (25 while each read waited for its
    # own answer).
    assert len(waits) <= 15, waits
