"""Case handling: every change of a case is a hub event that flows back to its village."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared import states
from shared.catalogue import Catalogue

from . import audit, deadlines
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database, is_postgres
from .staff import covers
from .models import Assignment, Case, HubEvent, Node, Staff

log = logging.getLogger("daiban.hub.cases")


@dataclass
class CaseError(Exception):
    """An action the rules forbid, with a sentence for staff."""

    code: str
    message: str


def lock_node(node_id: str) -> Node:
    """The node row, locked for this transaction so its hub log numbers stay gapless."""
    query = Node.select().where(Node.node_id == node_id)
    if is_postgres():
        query = query.for_update()
    return query.get()


def append_hub_event(node: Node, request_id: str, type_: str, body: dict[str, Any], actor: str) -> HubEvent:
    """Add one entry to the village's downstream log (caller holds the node lock)."""
    node.out_seq += 1
    Node.update(out_seq=node.out_seq).where(Node.node_id == node.node_id).execute()
    body = {**body, "actor_name": actor_name(actor)}
    return HubEvent.create(
        node=node, cseq=node.out_seq, request_id=request_id, type=type_, body=body, actor=actor, at=now()
    )


def actor_name(actor: str) -> str:
    """How the village names who acted: a staff member's display name, else 系统 (an automatic step)."""
    person = Staff.get_or_none(Staff.username == actor)
    return person.name if person is not None else "系统"


def status_body(case: Case, catalogue: Catalogue, **extra: Any) -> dict[str, Any]:
    """What the village needs to know about a case after a change."""
    body: dict[str, Any] = {
        "receipt_code": case.receipt_code,
        "state": case.state,
        "state_label": states.LABELS[case.state],
        "window": case.window,
        "window_name": catalogue.window_name(case.window),
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "missing": list(case.materials_missing or []),
        "missing_names": catalogue.material_names(case.item_code, case.materials_missing or []),
        "assignee": case.assignee,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def announce(node: Node, case: Case, actor: str, catalogue: Catalogue, **extra: Any) -> HubEvent:
    """Record the case's new status in the village's downstream log (and queue the villager's SMS)."""
    from .sms import queue_status_sms

    event = append_hub_event(node, case.request_id, "case.status", status_body(case, catalogue, **extra), actor)
    queue_status_sms(case, event)
    return event


def act(
    receipt_code: str,
    action: str,
    actor: str,
    *,
    missing: list[str] | None = None,
    reason: str | None = None,
    legal_basis: str | None = None,
    note: str | None = None,
    staff: Staff | None = None,
) -> Case:
    """Apply a staff action (accept, ask_materials, refuse, approve, deny) to a case, all or nothing.

    With `staff`, the person must cover the case's window. The returned case carries
    the downstream log entry it produced as `case.event` (the notice prints from it).
    """
    try:
        return _act(receipt_code, action, actor, missing=missing, reason=reason, legal_basis=legal_basis,
                    note=note, staff=staff)
    except CaseError as exc:
        log.warning("refused %s on %s by %s: %s", action, receipt_code, actor, exc.code)
        # The refused change left nothing behind; the attempt itself is kept on the audit chain.
        audit.record(actor, "case.refused_attempt", receipt_code, {"action": action, "code": exc.code})
        raise


def check_staff(staff: Staff | None, case: Case, catalogue: Catalogue) -> None:
    """Refuse an action by someone who does not cover the case's window."""
    if staff is None:
        return
    if not staff.active:
        raise CaseError("inactive_staff", "该账号已停用")
    if not covers(staff, case.window):
        raise CaseError("not_your_window",
                        f"您不负责{catalogue.window_name(case.window)}窗口，不能办理此件，请联系该窗口工作人员")


def _act(receipt_code: str, action: str, actor: str, *, missing: list[str] | None, reason: str | None,
         legal_basis: str | None, note: str | None, staff: Staff | None) -> Case:
    if action not in states.ACTIONS:
        raise CaseError("unknown_action", f"未知操作：{action}")
    target = states.ACTIONS[action]
    catalogue = current_catalogue()
    reason, legal_basis, note = ((v.strip() or None) if v else None for v in (reason, legal_basis, note))
    with database.atomic():
        case = Case.get_or_none(Case.receipt_code == receipt_code)
        if case is None:
            raise CaseError("unknown_case", "没有这个受理编号")
        node = lock_node(case.node_id)
        case = Case.get_by_id(case.request_id)
        check_staff(staff, case, catalogue)
        try:
            states.check_transition(case.state, target, case.mode)
        except states.TransitionError as exc:
            raise CaseError(exc.code, exc.message) from exc
        if target == "needs_materials":
            known = {m["code"] for m in catalogue.materials(case.item_code)}
            missing = list(dict.fromkeys(m for m in (missing or []) if m))
            unknown = [m for m in missing if m not in known]
            if unknown:
                raise CaseError("unknown_material", f"本事项没有这些材料：{'、'.join(unknown)}")
            if not missing and not note:
                raise CaseError("missing_required", "补正告知须列明所缺材料（勾选或填写）")
            case.materials_missing = missing
            deadlines.pause(case)
        if target in ("refused", "denied"):
            if not (reason and reason.strip()) or not (legal_basis and legal_basis.strip()):
                raise CaseError("reason_required", "不予受理或不予批准须写明理由和法律依据")
        if target in states.TERMINAL:
            case.closed_at = now()
            case.paused_since = None
        case.state = target
        case.updated_at = now()
        case.save()
        case.event = announce(node, case, actor, catalogue, action=action, reason=reason,
                              legal_basis=legal_basis, note=note)
        audit.record(actor, f"case.{action}", case.receipt_code, {
            "state": case.state, "missing": list(missing or []), "reason": reason, "legal_basis": legal_basis,
        })
    return case


def reassign(receipt_code: str, username: str, actor: str, reason: str = "") -> Case:
    """Hand an open case to another person covering its window; recorded and told to the village."""
    catalogue = current_catalogue()
    with database.atomic():
        case = Case.get_or_none(Case.receipt_code == receipt_code)
        if case is None:
            raise CaseError("unknown_case", "没有这个受理编号")
        node = lock_node(case.node_id)
        case = Case.get_by_id(case.request_id)
        if states.is_terminal(case.state):
            raise CaseError("terminal_state", "该申请已办理终结，不能再变更承办人")
        person = Staff.get_or_none((Staff.username == username) & (Staff.active == True))  # noqa: E712
        if person is None:
            raise CaseError("unknown_staff", "没有这个在岗工作人员")
        if case.window not in (person.windows or []):
            raise CaseError("not_your_window",
                            f"{person.name}不负责{catalogue.window_name(case.window)}窗口，不能承办此件")
        if case.assignee == username:
            raise CaseError("same_assignee", f"此件已由{person.name}承办")
        previous = case.assignee
        case.assignee = username
        case.updated_at = now()
        case.save()
        Assignment.create(username=username, window=case.window, request_id=case.request_id,
                          previous=previous, by=actor, reason=reason.strip(), at=now())
        case.event = announce(node, case, actor, catalogue, action="reassigned", note=reason.strip() or None,
                              previous_assignee=previous)
        audit.record(actor, "case.reassign", case.receipt_code, {"from": previous, "to": username, "reason": reason})
    return case


def supplement_arrived(node: Node, case: Case, materials: list[str], catalogue: Catalogue) -> None:
    """A villager's 补正 reached the hub: record it and restart the clock (caller holds the lock)."""
    brought = list(dict.fromkeys(list(case.materials_brought or []) + materials))
    case.materials_brought = brought
    case.materials_missing = [m for m in (case.materials_missing or []) if m not in materials]
    if case.state == "needs_materials":
        item = catalogue.item(case.item_code) or {}
        deadlines.resume(case, int(item.get("time_limit_days", 0)))
        case.state = "received"
    case.updated_at = now()
    case.save()
    announce(node, case, "system", catalogue, action="supplemented")
