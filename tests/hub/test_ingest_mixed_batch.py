"""One batch mixing complete captures and captures with missing materials is stored whole, in either order.

A capture with missing materials sets fields a complete one leaves unset (materials_asked_on, the first
补正 date); the batch writer inserts all of a batch's cases at once, so the rows differ in keys.
"""

from __future__ import annotations

import pytest

from hub.enrolment import issue_code
from hub.models import Case
from shared import protocol
from shared.catalogue import Catalogue
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim


def _captured(sim: NodeSim, missing: bool) -> tuple[str, str, dict[str, object]]:
    item = Catalogue.default().item("JF-01")
    assert item is not None
    required = [m["code"] for m in item["materials"] if m["required"]]
    data = capture("JF-01", missing=required[-1:] if missing else None)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


@pytest.mark.parametrize("order", [(True, False, True), (False, True, False)], ids=["missing-first", "complete-first"])
def test_a_batch_of_mixed_captures_is_stored_whole(hub_client, order) -> None:  # type: ignore[no-untyped-def]
    sim = NodeSim(hub_client, issue_code("桃源村"))
    events = sim.events(*(_captured(sim, missing) for missing in order))
    resp = sim.send(events)
    assert resp["last_seq"] == len(order)
    stored = {c.request_id: c for c in Case.select()}
    assert len(stored) == len(order)
    for ev, missing in zip(events, order):
        case = stored[ev["request_id"]]
        assert (case.materials_asked_on is not None) == missing, (case.state, case.materials_asked_on)
        assert (case.materials_asks == 1) == missing
