"""Hub decisions at the village: the needs-attention list and the hub's notices printed for the villager."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from shared import states
from shared.papers import document

from . import meta
from .auth import login_required
from .capture import catalogue, now
from .capture_views import paper, stored_request
from .db import database
from .models import HubUpdate, Request

bp = Blueprint("notices", __name__)

# Which paper the hub's decision calls for; the template picks its wording from this.
NOTICE_KINDS = {
    states.ACCEPTED: "受理通知单",
    states.NEEDS_MATERIALS: "一次性告知单（补正材料）",
    states.REFUSED: "不予受理告知书",
    states.APPROVED: "办结通知（请来领取）",
    states.DENIED: "办结通知（不予批准）",
    states.INVALID: "退回通知（信息有误）",
    states.WITHDRAWN: "撤回确认",
    states.RECEIVED: "中心已接收",
}


@bp.get("/attention")
@login_required
def attention() -> Any:
    """Requests the hub decided on that the clerk has not yet dealt with."""
    rows = list(Request.select().where(Request.needs_attention).order_by(Request.updated_at.desc()))
    return render_template("attention.html", rows=rows, kinds=NOTICE_KINDS, last_sync=meta.get("last_sync_ok"))


@bp.get("/requests/<code>/hub-notice")
@login_required
def hub_notice(code: str) -> Any:
    """The hub's notice for the request's current state, printable at the village."""
    req = stored_request(code)
    cat = catalogue()
    item = cat.item(req.item_code) or {}
    missing = [m for m in item.get("materials", []) if m["code"] in (req.hub_missing or [])]
    # The centre's own document, from the facts it froze into its log entry: the same text as its copy.
    issued = [
        u
        for u in HubUpdate.select().where(HubUpdate.request_id == req.request_id).order_by(HubUpdate.cseq)
        if isinstance(u.body.get("paper"), dict)
    ]
    wanted = request.args.get("cseq", "")
    chosen = next((u for u in issued if str(u.cseq) == wanted), issued[-1] if issued else None)
    doc = document(chosen.body["paper"], chosen.cseq) if chosen is not None else None
    return render_template(
        "hub_notice.html",
        req=req,
        item=item,
        title=doc["title"] if doc else NOTICE_KINDS.get(req.state, "办理情况通知"),
        doc=doc,
        others=[(u.cseq, document(u.body["paper"], u.cseq)["title"]) for u in issued],
        missing=missing,
        missing_names=req.hub_missing_names or [],
        paper=paper(),
        village=meta.get("village", ""),
        last_sync=meta.get("last_sync_ok"),
    )


@bp.post("/requests/<code>/seen")
@login_required
def seen(code: str) -> Any:
    """The clerk has told the villager: take it off the needs-attention list."""
    req = stored_request(code)
    with database.atomic():
        Request.update(needs_attention=False, updated_at=now()).where(Request.request_id == req.request_id).execute()
    flash(f"已处理：{req.receipt_code}")
    back = request.form.get("next", "")
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("notices.attention"))
