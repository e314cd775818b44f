"""The paper each case action produces (一书二单, the completion and extension notices), printed from its log entry.

At the moment of the action the notice's facts are frozen into the downstream log entry
(``body["paper"]``); the console renders ``shared.papers.document`` from them, and the village
node renders the very same function from the very same entry, so both copies read alike:
text, officer, document number, issuer and appeal rights. Entries written before the facts were
frozen are rendered from the case as it stands.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context

from shared import states
from shared.catalogue import Catalogue
from shared.papers import DEFAULT_ISSUER, DEFAULT_REVIEW_BODY, TITLES, document, paper_number as _number
from shared.receipt_codes import format_code
from shared.china_time import beijing_time

from .clock import china_date, now
from .models import Case, HubEvent, Staff

PAPERS: dict[str, str] = dict(TITLES)

# The feedback form is the service centre's own; notices are the government's (see issuer()).
CENTRE_NAME = "乡镇政务服务中心"


def _config(key: str, default: str) -> str:
    return str(current_app.config.get(key) or default) if has_app_context() else default


def issuer() -> str:
    """Who issues notices: the township people's government (config TOWNSHIP_GOVERNMENT)."""
    return _config("TOWNSHIP_GOVERNMENT", DEFAULT_ISSUER)


def review_body() -> str:
    """Where 行政复议 is applied for (config REVIEW_BODY), named on refusals and denials."""
    return _config("REVIEW_BODY", DEFAULT_REVIEW_BODY)


def paper_number(case: Case, event: HubEvent) -> str:
    """A stable number for the paper: receipt code and the entry's place in the village log."""
    return _number(case.receipt_code, event.cseq)


def events_of(case: Case) -> list[HubEvent]:
    """The case's downstream log entries in order."""
    return list(
        HubEvent.select()
        .where((HubEvent.node == case.node_id) & (HubEvent.request_id == case.request_id))
        .order_by(HubEvent.cseq)
    )


def papers(case: Case) -> list[dict[str, Any]]:
    """Every paper printed for a case so far, oldest first."""
    out = []
    for ev in events_of(case):
        action = ev.body.get("action")
        if action in PAPERS:
            out.append(
                {
                    "event": ev,
                    "title": PAPERS[action],
                    "action": action,
                    "label": states.ACTION_LABELS.get(action, action),
                }
            )
    return out


def first_contact(case: Case) -> str:
    """首问责任人: the clerk who captured it, or the staff member who received it at the counter."""
    if case.source == "counter" and case.received_by:
        person = Staff.get_or_none(Staff.username == case.received_by)
        return person.name if person is not None else case.received_by
    return case.clerk or ""


def facts(case: Case, action: str, actor: str, catalogue: Catalogue, **extra: Any) -> dict[str, Any]:
    """Everything a notice says, frozen at the moment of the action."""
    item = catalogue.item(case.item_code) or {}
    staff = Staff.get_or_none(Staff.username == actor)
    received = beijing_time(case.received_at)
    missing_codes = list(case.materials_missing or [])
    out: dict[str, Any] = {
        "action": action,
        "receipt_code": case.receipt_code,
        "code": format_code(case.receipt_code),
        "applicant": case.applicant_name,
        "village": case.village.name,
        "item_name": item.get("name", case.item_code),
        "window_name": catalogue.window_name(case.window),
        "received_at": received,
        "issuer": issuer(),
        "review_body": review_body(),
        "officer": staff.name if staff else ("系统" if actor == "system" else actor),
        "issued_on": china_date(now()).isoformat(),
        "first_contact": first_contact(case),
        "source": case.source or "village",
        "limit_days": int(item.get("time_limit_days", 0)),
        "immediate": case.mode == "immediate",
        "fee": item.get("fee") or "免费",
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "materials_complete": not missing_codes,
        "missing": [
            {"name": m["name"], "note": m.get("note", "")}
            for m in catalogue.materials(case.item_code)
            if m["code"] in missing_codes
        ],
    }
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def context(case: Case, event: HubEvent, catalogue: Catalogue) -> tuple[str, dict[str, Any]]:
    """The template and what it shows for one paper."""
    action = event.body.get("action")
    if action not in PAPERS:
        raise KeyError(action)
    frozen = event.body.get("paper")
    if not isinstance(frozen, dict):
        body = event.body
        frozen = facts(
            case,
            action,
            event.actor,
            catalogue,
            reason=body.get("reason"),
            legal_basis=body.get("legal_basis"),
            note=body.get("note"),
            deadline=body.get("deadline"),
            issued_on=china_date(event.at).isoformat(),
        )
        frozen["missing"] = [
            {"name": m["name"], "note": m.get("note", "")}
            for m in catalogue.materials(case.item_code)
            if m["code"] in (body.get("missing") or [])
        ]
    doc = document(frozen, event.cseq)
    return "console/notice.html", {"title": doc["title"], "number": doc["number"], "doc": doc, "case": case}
