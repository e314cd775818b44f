"""Case handling: every change of a case is a hub event that flows back to its village."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import states
from shared.catalogue import Catalogue

from . import audit, deadlines
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database, is_postgres
from .models import Case, HubEvent, Node


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
    return HubEvent.create(
        node=node, cseq=node.out_seq, request_id=request_id, type=type_, body=body, actor=actor, at=now()
    )


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
    """Record the case's new status in the village's downstream log."""
    return append_hub_event(node, case.request_id, "case.status", status_body(case, catalogue, **extra), actor)


def act(
    receipt_code: str,
    action: str,
    actor: str,
    *,
    missing: list[str] | None = None,
    reason: str | None = None,
    legal_basis: str | None = None,
    note: str | None = None,
) -> Case:
    """Apply a staff action (accept, ask_materials, refuse, approve, deny) to a case, all or nothing."""
    try:
        return _act(receipt_code, action, actor, missing=missing, reason=reason, legal_basis=legal_basis, note=note)
    except CaseError as exc:
        # The refused change left nothing behind; the attempt itself is kept on the audit chain.
        audit.record(actor, "case.refused_attempt", receipt_code, {"action": action, "code": exc.code})
        raise


def _act(
    receipt_code: str,
    action: str,
    actor: str,
    *,
    missing: list[str] | None,
    reason: str | None,
    legal_basis: str | None,
    note: str | None,
) -> Case:
    if action not in states.ACTIONS:
        raise CaseError("unknown_action", f"未知操作：{action}")
    target = states.ACTIONS[action]
    catalogue = current_catalogue()
    with database.atomic():
        case = Case.get_or_none(Case.receipt_code == receipt_code)
        if case is None:
            raise CaseError("unknown_case", "没有这个受理编号")
        node = lock_node(case.node_id)
        case = Case.get_by_id(case.request_id)
        try:
            states.check_transition(case.state, target, case.mode)
        except states.TransitionError as exc:
            raise CaseError(exc.code, exc.message) from exc
        item = catalogue.item(case.item_code) or {}
        limit = int(item.get("time_limit_days", 0))
        if target == "needs_materials":
            missing = [m for m in (missing or []) if m]
            if not missing and not note:
                raise CaseError("missing_required", "补正告知须列明所缺材料")
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
        announce(node, case, actor, catalogue, action=action, reason=reason, legal_basis=legal_basis, note=note)
        audit.record(actor, f"case.{action}", case.receipt_code, {
            "state": case.state, "missing": list(missing or []), "reason": reason, "legal_basis": legal_basis,
        })
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
