"""Corrections of a captured request at the hub: by window staff, or by the clerk's request.corrected event.

One rule for both (shared/corrections.check): the corrected record passes the capture checks, a
reason is given, the receipt code stays. The clerk may correct only before the hub's 受理; staff
until the case is closed. A correction is its own entry in the history on both sides: the clerk's
arrives as a node event (kept in NodeEvent), staff's goes down to the village as a `case.corrected`
update. Every correction and every refused attempt is on the audit chain.
"""

from __future__ import annotations

from typing import Any

from shared import states
from shared.corrections import Correction, CorrectionError, check, columns
from shared.msgid import N_

from . import audit
from .cases import CaseError, append_hub_event, check_staff, locked_case
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database
from .models import Case, Node, Staff

CLOSED_MESSAGE = N_("该申请已%(state)s，办理已终结，不能更正；如登记内容有误，请在办结通知上另行说明")
ACCEPTED_MESSAGE = N_("中心已受理此件，代办员不能再更正；请联系%(window)s窗口工作人员更正")


def _apply(case: Case, fix: Correction) -> None:
    case.captured = fix.record
    for column, value in columns(fix.field, fix.value).items():
        setattr(case, column, value)
    case.updated_at = now()
    case.save()


def _record(actor: str, case: Case, fix: Correction, by: str) -> None:
    audit.record(
        actor,
        "case.corrected",
        case.receipt_code,
        {
            "field": fix.field,
            "label": fix.label,
            "old": fix.old,
            "value": fix.value,
            "reason": fix.reason,
            "by": by,
        },
    )


def correct(receipt_code: str, field: str, value: str, reason: str, actor: str, staff: Staff | None) -> Case:
    """Window staff correct one field of a case; the village is told by a `case.corrected` update.

    Refused (CaseError, nothing changed, the attempt audited) for a closed case, a person not on
    the case's window, or a value the capture checks refuse.
    """
    try:
        with database.atomic():
            node, case = locked_case(receipt_code)
            catalogue = current_catalogue()
            check_staff(staff, case, catalogue)
            if states.is_terminal(case.state):
                raise CaseError("case_closed", N_(CLOSED_MESSAGE, state=states.label(case.state)))
            try:
                fix = check(catalogue, case.captured or {}, field, value, reason)
            except CorrectionError as exc:
                raise CaseError(exc.code, exc.message) from exc
            _apply(case, fix)
            case.event = append_hub_event(
                node,
                case.request_id,
                "case.corrected",
                {
                    "receipt_code": case.receipt_code,
                    "state": case.state,
                    "field": fix.field,
                    "field_label": fix.label,
                    "old": fix.old,
                    "value": fix.value,
                    "reason": fix.reason,
                },
                actor,
            )
            _record(actor, case, fix, "staff")
    except CaseError as exc:
        audit.record(
            actor,
            "case.refused_attempt",
            receipt_code,
            {"action": "correct", "code": exc.code, "field": str(field)[:60]},
        )
        raise
    return case


def from_node(node: Node, case: Case, data: dict[str, Any], clerk: str) -> None:
    """The clerk's request.corrected reached the hub (caller holds the node lock and the transaction).

    Raises CaseError when the case is closed or already accepted (受理), or the value is refused;
    the ingest turns that into a refusal the village sees on the event.
    """
    actor = clerk or "system"
    catalogue = current_catalogue()
    try:
        if states.is_terminal(case.state):
            raise CaseError("case_closed", N_(CLOSED_MESSAGE, state=states.label(case.state)))
        if case.accepted_on is not None:
            raise CaseError("already_accepted", N_(ACCEPTED_MESSAGE, window=catalogue.window_name(case.window)))
        try:
            fix = check(catalogue, case.captured or {}, data.get("field"), data.get("value"), data.get("reason"))
        except CorrectionError as exc:
            raise CaseError(exc.code, exc.message) from exc
    except CaseError as exc:
        audit.record(
            actor,
            "case.refused_attempt",
            case.receipt_code,
            {"action": "correct", "code": exc.code, "field": str(data.get("field"))[:60], "by": "clerk"},
        )
        raise
    _apply(case, fix)
    _record(actor, case, fix, "clerk")
