"""The hub refuses every free-text field longer than the node allows (one set of limits in shared/validation.py)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.models import Case, NodeEvent
from shared import protocol, validation
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.hub.console_support import new_case
from tests.nodesim import NodeSim


def _results(sim: NodeSim, *events: tuple[str, str, dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(status, refusal code) for each event, in order."""
    wire = sim.events(*events)
    refused = {r["seq"]: r for r in sim.send(wire)["ack"]["results"]}
    return [("refused", refused[ev["seq"]]["code"]) if ev["seq"] in refused else ("ok", None) for ev in wire]


def _captured(sim: NodeSim, notes: str) -> tuple[str, str, dict[str, Any]]:
    data = capture("JF-01")
    data.update(receipt_code=new_code(sim.prefix), catalogue_version=1, notes=notes)
    return ("request.captured", protocol.new_id(), data)


def test_notes_over_the_node_limit_are_refused(sim: NodeSim) -> None:
    at_limit, one_mib = _captured(sim, "备" * validation.NOTES_MAX), _captured(sim, "x" * (1024 * 1024 - 4096))
    over = _captured(sim, "备" * (validation.NOTES_MAX + 1))
    assert _results(sim, at_limit, one_mib, over) == [("ok", None), ("refused", "too_long"), ("refused", "too_long")]
    assert Case.select().count() == 1
    refusals = [str(e.__data__) for e in NodeEvent.select().where(NodeEvent.result == "refused")]
    assert any(f"备注不能超过{validation.NOTES_MAX}个字" in r for r in refusals)


def test_extra_keys_cannot_smuggle_megabytes(sim: NodeSim) -> None:
    padded = _captured(sim, "村民申请")
    padded[2]["junk"] = "x" * 100_000
    padded[2]["fields"]["unknown_key"] = "y" * 100_000
    code = new_case(sim, "JF-01")
    rid = Case.get(Case.receipt_code == code).request_id
    assert _results(
        sim,
        padded,
        ("request.supplemented", rid, {"materials": ["M-ID"], "junk": "z" * 10_000}),
        ("request.feedback", rid, {"satisfaction": "满意", "junk": "z" * 10_000}),
    ) == [("refused", "too_long"), ("refused", "bad_materials"), ("refused", "bad_feedback")]
    assert Case.select().count() == 1


def test_feedback_comment_and_withdrawal_reason_are_bounded(sim: NodeSim) -> None:
    code = new_case(sim, "JF-01")
    rid = Case.get(Case.receipt_code == code).request_id
    assert _results(
        sim,
        ("request.feedback", rid, {"satisfaction": "满意", "comment": "好" * (validation.FEEDBACK_COMMENT_MAX + 1)}),
        ("request.withdrawn", rid, {"reason": "因" * (validation.WITHDRAW_REASON_MAX + 1)}),
        ("request.feedback", rid, {"satisfaction": "满意", "comment": "好" * validation.FEEDBACK_COMMENT_MAX}),
        ("request.withdrawn", rid, {"reason": "因" * validation.WITHDRAW_REASON_MAX}),
    ) == [("refused", "bad_feedback"), ("refused", "bad_reason"), ("ok", None), ("ok", None)]
    case = Case.get(Case.receipt_code == code)
    assert case.state == "withdrawn"
    assert case.satisfaction == "满意"
    assert NodeEvent.select().count() == 5


def test_node_uses_the_same_limits(node_app) -> None:
    from node.capture import CaptureError, capture_request
    from node.db import database

    data = capture("JF-01")
    data["notes"] = "备" * (validation.NOTES_MAX + 1)
    with database.connection_context(), pytest.raises(CaptureError) as err:
        capture_request(data, "李文书")
    assert any(e.field == "notes" and e.code == "too_long" for e in err.value.errors)
