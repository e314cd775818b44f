"""The SMS queue as supervisors see it (age, state, last error of each message) and 退订 (opt-out)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from shared.validation import mask_phone

from . import audit, sms
from .auth import current_user, login_required
from .clock import now
from .models import SmsMessage
from shared.msgid import N_
from flask_babel import gettext as _

bp = Blueprint("sms_admin", __name__)
STATE_LABELS = {
    "queued": N_("待发送"),
    "sending": N_("发送中"),
    "sent": N_("已发送"),
    "failed": N_("发送失败"),
    "unknown": N_("结果未知（请人工核实，不会自动重发）"),
    "skipped": N_("已退订，未发送"),
}


@bp.route("/console/sms", methods=["GET", "POST"])
@login_required("supervisor")
def index() -> Any:
    """Recent SMS with their age and last error; a form to record a number's opt-out."""
    user = current_user()
    assert user is not None
    error = None
    status = 200
    if request.method == "POST":
        try:
            sms.opt_out(request.form.get("phone", ""), user.username)
        except ValueError as exc:
            error, status = str(exc), 400
        else:
            audit.record(user.username, "sms.opt_out", mask_phone(request.form.get("phone", "")))
            flash(_("已登记退订，今后不再向该号码发送短信"))
            return redirect(url_for("sms_admin.index"))
    rows = list(SmsMessage.select().order_by(SmsMessage.id.desc()).limit(200))
    return render_template(
        "sms/index.html",
        rows=rows,
        labels=STATE_LABELS,
        mask=mask_phone,
        now=now(),
        enabled=sms.configured_sender() is not None,
        error=error,
    ), status
