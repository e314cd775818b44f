"""The villager's status page on the node: receipt code + phone tail, masked, tiny, rate-limited.

Lookups are limited per client address and failed lookups per receipt code (node.ratelimit,
Flask-Limiter in memory); the counts reset when the node restarts, which is acceptable for a
page that reveals only masked data and gives the same answer for an unknown code and a wrong
phone tail.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, render_template, request

from datetime import date

from shared import states
from shared.next_steps import next_steps
from shared.receipt_codes import format_code, is_valid, normalise
from shared.validation import mask_name

from . import meta
from .capture import catalogue
from .models import Request
from .ratelimit import allow_status_lookup, status_miss
from .requests_views import clock_text
from flask_babel import gettext as _

bp = Blueprint("status", __name__)


def find(code: str, tail: str) -> Request | None:
    """The request only when both the code and the phone's last four digits match."""
    if not is_valid(code) or len(tail) != 4 or not tail.isdigit():
        return None
    req = Request.get_or_none(Request.receipt_code == normalise(code))
    if req is None or req.purged or not hmac.compare_digest(req.phone[-4:], tail):
        return None
    return req


def public_view(req: Request) -> dict[str, Any]:
    """Only what a villager may see: masked name, item, window, state, deadline, what is missing."""
    cat = catalogue()
    item = cat.item(req.item_code) or {}
    # Once the hub has the request, its list of what is missing is the one that counts.
    owed = (
        cat.material_names(req.item_code, req.materials_missing or [])
        if req.state in states.NODE_ONLY
        else list(req.hub_missing_names or [])
    )
    return {
        "code": format_code(req.receipt_code),
        "name": mask_name(req.applicant_name),
        "item": item.get("name", req.item_code),
        "window": req.window_name or "",
        "state": states.label(req.state),
        # A due date only while one runs: none before 受理 (补正期间不计时) and none once closed.
        "deadline": clock_text(req, item) or None,
        "missing": [] if states.is_terminal(req.state) else owed,
        "reason": req.reason if req.state in (states.REFUSED, states.DENIED) else None,
        "legal_basis": req.legal_basis if req.state in (states.REFUSED, states.DENIED) else None,
        "next_steps": next_steps(req.state, _day(req.status_at), req.window_name or ""),
    }


def _day(stamp: str | None) -> date | None:
    """The day of the hub's last status change (an ISO timestamp), if it reads as one."""
    try:
        return date.fromisoformat((stamp or "")[:10])
    except ValueError:
        return None


@bp.route("/status", methods=["GET", "POST"])
def lookup() -> Any:
    """Look up a request without logging in."""
    result = None
    message = None
    status = 200
    if request.method == "POST":
        code = request.form.get("code", "")
        if not allow_status_lookup(request.remote_addr or "?", normalise(code)[:16]):
            message = _("查询太频繁，请10分钟后再试")
            status = 429
        else:
            req = find(code, request.form.get("tail", "").strip())
            if req is None:
                status_miss(normalise(code)[:16])
                message = _("未查到：请核对回执码和手机号后四位")
            else:
                result = public_view(req)
    return render_template("status.html", result=result, message=message, as_of=meta.get("last_sync_ok")), status
