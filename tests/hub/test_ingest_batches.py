"""Hub ingest of one batch mixing cases that set different columns (the rows are written together)."""

from __future__ import annotations

import pytest

from hub.enrolment import issue_code
from hub.models import Case, HubEvent, NodeEvent
from shared import protocol
from shared.catalogue import Catalogue
from shared.receipt_codes import new_code
from tests.factories import capture, item_of
from tests.nodesim import NodeSim


@pytest.fixture
def sim(hub_client):
    return NodeSim(hub_client, issue_code("桃源村"))


def captured(sim: NodeSim, item: str, missing: list[str] | None = None):
    data = capture(item, missing=missing)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


def test_batch_with_incomplete_case_first_then_complete_ones_is_stored_whole(sim: NodeSim) -> None:
    # The case waiting for materials sets materials_asked_on; the complete ones after it do not.
    required = [m["code"] for m in item_of(Catalogue.default(), "DB-01")["materials"] if m["required"]]
    events = sim.events(captured(sim, "DB-01", missing=required[:1]), captured(sim, "JF-01"), captured(sim, "FP-01"))
    resp = sim.send(events)
    assert resp["ack"]["accepted"] == 3
    assert resp["ack"]["results"] == []
    by_item = {c.item_code: c for c in Case.select()}
    assert by_item["DB-01"].materials_asked_on is not None
    assert by_item["DB-01"].materials_missing == required[:1]
    assert by_item["JF-01"].materials_asked_on is None
    assert by_item["FP-01"].materials_asked_on is None
    assert [e.seq for e in NodeEvent.select().order_by(NodeEvent.seq)] == [1, 2, 3]
    assert HubEvent.select().count() == 3


def test_each_event_is_stored_as_the_node_sent_it(sim: NodeSim) -> None:
    events = sim.events(captured(sim, "JF-01"), captured(sim, "DB-01"))
    sim.send(events)
    stored = {e.seq: e.body for e in NodeEvent.select()}
    assert stored == {ev["seq"]: ev for ev in events}
    cases = {c.request_id: c.captured for c in Case.select()}
    assert cases == {ev["request_id"]: ev["data"] for ev in events}
