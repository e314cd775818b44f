"""The clerk's correction of a captured request (before the hub's 受理), from the request page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from shared.corrections import CorrectionError
from shared.i18n import tr

from . import scheduler
from .auth import current_clerk, login_required
from .capture_views import stored_request
from .corrections import correct

bp = Blueprint("corrections", __name__)
log = logging.getLogger("daiban.node.corrections")


@bp.post("/requests/<code>/correct")
@login_required
def submit(code: str) -> Any:
    """Correct one field with a reason; a refusal is shown beside the form and nothing changes."""
    from .requests_views import render_detail

    req = stored_request(code)
    clerk = current_clerk()
    assert clerk is not None
    form = request.form
    try:
        fix = correct(
            req.receipt_code, form.get("field", ""), form.get("value", ""), form.get("reason", ""), clerk.name
        )
    except CorrectionError as exc:
        log.warning("refused correction on %s: %s", req.receipt_code, exc.code)
        status = 409 if exc.code == "not_correctable" else 400
        return render_detail(stored_request(code), status, correct_error=tr(exc.message), correct_form=form.to_dict())
    scheduler.kick()
    flash(_("已更正%(field)s，将随下次同步报送中心（回执码不变）", field=tr(fix.label)))
    return redirect(url_for("requests.detail", code=req.receipt_code))
