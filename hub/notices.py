"""The paper each case action produces (一书二单 and the completion notice), printed from its log entry.

A notice is rendered from the downstream log entry the action wrote, so a reprint
months later shows exactly what was decided then, and the village prints the same
facts from the same entry.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shared import states
from shared.catalogue import Catalogue
from shared.receipt_codes import format_code

from .clock import china_date
from .models import Case, HubEvent, Staff

# action -> (template, title)
PAPERS: dict[str, tuple[str, str]] = {
    "accept": ("console/notice_accept.html", "事项受理通知单"),
    "ask_materials": ("console/notice_materials.html", "一次性告知单"),
    "refuse": ("console/notice_refuse.html", "不予受理告知书"),
    "approve": ("console/notice_done.html", "办结通知"),
    "deny": ("console/notice_done.html", "办结通知"),
}

CENTRE_NAME = "乡镇政务服务中心"


def paper_number(case: Case, event: HubEvent) -> str:
    """A stable number for the paper: receipt code and the entry's place in the village log."""
    return f"{case.receipt_code}-{event.cseq:04d}"


def events_of(case: Case) -> list[HubEvent]:
    """The case's downstream log entries in order."""
    return list(HubEvent.select().where((HubEvent.node == case.node_id) & (HubEvent.request_id == case.request_id))
                .order_by(HubEvent.cseq))


def papers(case: Case) -> list[dict[str, Any]]:
    """Every paper printed for a case so far, oldest first."""
    out = []
    for ev in events_of(case):
        action = ev.body.get("action")
        if action in PAPERS:
            out.append({"event": ev, "title": PAPERS[action][1], "action": action,
                        "label": states.ACTION_LABELS.get(action, action)})
    return out


def context(case: Case, event: HubEvent, catalogue: Catalogue) -> tuple[str, dict[str, Any]]:
    """The template and what it shows for one paper."""
    action = event.body.get("action")
    if action not in PAPERS:
        raise KeyError(action)
    template, title = PAPERS[action]
    item = catalogue.item(case.item_code) or {}
    body = event.body
    staff = Staff.get_or_none(Staff.username == event.actor)
    missing_codes = list(body.get("missing") or [])
    deadline = body.get("deadline")
    return template, {
        "title": title,
        "centre": CENTRE_NAME,
        "number": paper_number(case, event),
        "code": format_code(case.receipt_code),
        "case": case,
        "body": body,
        "item": item,
        "item_name": item.get("name", case.item_code),
        "window_name": catalogue.window_name(case.window),
        "village_name": case.village.name,
        "applicant": case.applicant_name,
        "issued_on": china_date(event.at),
        "issued_by": staff.name if staff else event.actor,
        "deadline": date.fromisoformat(deadline) if deadline else None,
        "missing": [m for m in catalogue.materials(case.item_code) if m["code"] in missing_codes],
        "note": body.get("note"),
        "reason": body.get("reason"),
        "legal_basis": body.get("legal_basis"),
        "approved": action == "approve",
        "limit_days": int(item.get("time_limit_days", 0)),
        "immediate": case.mode == "immediate",
    }
