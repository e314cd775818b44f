"""One batch mixing complete captures and captures with missing materials is stored whole, in either order.

A capture with missing materials sets fields a complete one leaves unset (materials_asked_on, the first
补正 date); the batch writer inserts all of a batch's cases at once, so the rows differ in keys. It was a
500, or the first 补正 date silently dropped, for a village offline for days that sends both kinds at once.
"""

from __future__ import annotations

import pytest

from hub.enrolment import issue_code
from hub.models import Case, HubEvent, NodeEvent
from shared import protocol
from shared.catalogue import Catalogue
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim


def _required(item: str) -> list[str]:
    found = Catalogue.default().item(item)
    assert found is not None
    return [m["code"] for m in found["materials"] if m["required"]]


def _captured(sim: NodeSim, item: str, missing: bool) -> tuple[str, str, dict[str, object]]:
    data = capture(item, missing=_required(item)[:1] if missing else None)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


@pytest.mark.parametrize(
    "batch",
    [
        [("DB-01", True), ("JF-01", False), ("FP-01", False), ("JF-01", True)],
        [("JF-01", False), ("DB-01", True), ("FP-01", False)],
    ],
    ids=["missing-first", "complete-first"],
)
def test_a_batch_of_mixed_captures_is_stored_whole(hub_client, batch: list[tuple[str, bool]]) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    events = sim.events(*(_captured(sim, item, missing) for item, missing in batch))
    resp = sim.send(events)
    assert resp["ack"]["accepted"] == len(batch)
    assert resp["ack"]["results"] == []
    assert resp["last_seq"] == len(batch)
    stored = {c.request_id: c for c in Case.select()}
    assert len(stored) == len(batch)
    for ev, (item, missing) in zip(events, batch):
        case = stored[ev["request_id"]]
        assert case.item_code == item
        if missing:
            assert case.state == "needs_materials"
            assert case.materials_asked_on is not None
            assert case.materials_asks == 1
            assert case.materials_missing == _required(item)[:1]
        else:
            assert case.state == "received", case.state
            assert case.materials_asked_on is None
            assert case.materials_asks != 1
            assert case.deadline is not None
    assert [e.seq for e in NodeEvent.select().order_by(NodeEvent.seq)] == list(range(1, len(batch) + 1))
    assert HubEvent.select().count() == len(batch)


def test_a_batch_s_times_are_printed_once_for_its_cases_and_their_status_entries(hub_client, monkeypatch) -> None:
    """On SQLite the batch's INSERTs bind date-times as text: each case's status entry is stamped with the
    case's received_at, and takes the text printed for the case (one printing of those times per batch, not
    two). What is stored is the same: each entry's time is its case's."""
    from hub.db import is_postgres
    from tests.shared.test_bulk_rows import counted_printing

    printed = counted_printing(monkeypatch)
    sim = NodeSim(hub_client, issue_code("桃源村"))
    events = sim.events(*(_captured(sim, item, False) for item in ("JF-01", "FP-01", "JF-01")))
    printed.clear()
    resp = sim.send(events)
    assert resp["ack"]["accepted"] == 3
    received = {c.request_id: c.received_at for c in Case.select()}
    assert {e.request_id: e.at for e in HubEvent.select()} == received
    if not is_postgres():
        times = [column for column in printed if set(received.values()) <= set(column)]
        assert len(times) == 1, times  # the cases' received_at (updated_at and the entries' `at` take its text)
