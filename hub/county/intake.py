"""At a county hub: a township's ``case.passed_up`` becomes a case in the county's queue, with its own deadline.

The case keeps the village's request id and receipt code, so the county's answer (a case.status
update in the township's log, written by hub/cases.record_county_answer) names the very case the
township passed up. The county's time limit is the item's, in working days from the day it arrived.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shared import messages, states
from shared.catalogue import Catalogue

from .. import audit, deadlines, routing
from ..clock import now, today
from ..models import Case, CountyReferral, Node


class PassedUpRefusal(Exception):
    """A passed-up case the county cannot take, with a protocol code and a sentence for the township."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def receive(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> Case:
    """Open the county's case for a township's passed-up case (caller holds the batch's transaction)."""
    try:
        data = messages.convert(ev["data"], messages.PassedUpData)
    except messages.MessageError as exc:
        raise PassedUpRefusal("bad_passed_up", f"报县级内容不符合规定（{exc.field or '内容'}）") from exc
    try:
        passed_up_on = date.fromisoformat(data.passed_up_on)
    except ValueError:
        raise PassedUpRefusal("bad_passed_up", "报县级日期不是有效日期") from None
    if not catalogue.passes_up(data.item_code):
        raise PassedUpRefusal("not_for_county", "该事项不由县级审批")
    earlier = Case.get_or_none(Case.request_id == ev["request_id"])
    if earlier is not None and earlier.village_id != node.village_id:
        # Village request ids are unique within a township (its villages' receipt prefixes), not
        # between townships: another township's case under this id is a collision, never the
        # same case again, and must not read as "already here" (docs/performance.md, "second pass").
        raise PassedUpRefusal("request_id_collision", "县级已有另一乡镇同一编号的申请，此件未登记，请联系县级核对")
    if earlier is not None:
        raise PassedUpRefusal("duplicate_request", "该件已报县级，县级已登记")
    if Case.get_or_none(Case.receipt_code == data.receipt_code) is not None:
        raise PassedUpRefusal("duplicate_receipt", "县级已有同一回执码的另一件，请联系县级核对")
    arrived = now()
    on = today()
    item = catalogue.item(data.item_code) or {}
    window = routing.window_for(catalogue, data.item_code)
    case = Case.create(
        request_id=ev["request_id"],
        receipt_code=data.receipt_code,
        node=node,
        village=node.village,
        item_code=data.item_code,
        window=window,
        mode=str(item.get("mode", "processed")),
        state=states.PASSED_UP,
        assignee=routing.assignee_for(window, ev["request_id"]),
        clerk=str(ev.get("clerk") or "")[:64],
        applicant_name=data.applicant_name,
        id_number=data.id_number,
        phone=data.phone,
        captured={**data.captured, "village": data.village, "township": node.village.name},
        materials_brought=list(data.materials_brought),
        materials_missing=[],
        received_at=arrived,
        received_on=on,
        accepted_on=on,
        updated_at=arrived,
        source="township",
    )
    # The county's own time limit runs from the day the case reached it (the item's, in working days).
    deadlines.start(case, int(item.get("time_limit_days", 0)), on)
    case.save()
    CountyReferral.create(
        request_id=case.request_id,
        passed_up_on=passed_up_on,
        passed_up_by=f"{node.village.name}·{data.passed_up_by}"[:64],
        opinion=data.opinion,
    )
    audit.record(
        node.node_id, "county.received", case.receipt_code, {"township": node.village.name, "item": data.item_code}
    )
    return case
