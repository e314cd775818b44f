"""报县级 on the console: window staff record the county's answer to a passed-up case from its document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from shared import states
from shared.receipt_codes import format_code, normalise

from .auth import current_user, login_required
from .cases import CaseError, record_county_answer
from .models import Case
from .staff import covers

bp = Blueprint("county_views", __name__)


@bp.post("/console/case/<code>/county")
@login_required()
def answer(code: str) -> Any:
    """县级批准 / 县级不予批准 with the county's document number, date and (when refused) reason."""
    from .console import ERROR_STATUS, _detail

    user = current_user()
    assert user is not None  # login_required
    case = Case.get_or_none(Case.receipt_code == normalise(code)[:16])
    if case is None or not covers(user, case.window):
        abort(404, description=_("没有这个回执码"))
    form = request.form
    try:
        done = record_county_answer(
            case.receipt_code,
            form.get("answer", "")[:20],
            user.username,
            doc_no=form.get("doc_no", "")[:200],
            doc_date=form.get("doc_date", "")[:20],
            reason=form.get("reason", "")[:4000],
            note=form.get("note", "")[:4000],
            staff=user,
        )
    except CaseError as exc:
        return _detail(Case.get_by_id(case.request_id), exc.message, form.to_dict(), ERROR_STATUS.get(exc.code, 400))
    flash(f"{format_code(done.receipt_code)}：{states.label(done.state)}")
    return redirect(url_for("console.case_view", code=done.receipt_code))
