"""The counter's pages (窗口收件): pick the item, fill the catalogue form, print the receipt with its QR."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from shared import intake, states
from shared.catalogue import KINDS
from shared.i18n import tr
from shared.receipt_codes import format_code

from .auth import current_user, login_required
from .catalogue_store import current as current_catalogue
from .console import _case_or_404
from .counter import CounterRefused, receive, village_choices
from .notices import first_contact
from .public_guide import public_url

bp = Blueprint("counter", __name__)


def _errors_by_field(refused: CounterRefused) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in refused.errors:
        out.setdefault(e.field or "form", []).append(tr(e.message))
    return out


@bp.get("/console/counter")
@login_required()
def pick() -> Any:
    """Choose the item the walk-in asks for: by window, or type its code."""
    cat = current_catalogue()
    code = request.args.get("item", "").strip().upper()
    error = None
    if code:
        item = cat.item(code)
        if item is not None and item["active"]:
            return redirect(url_for("counter.form", code=item["code"]))
        error = _("办理事项 %(code)s 不存在或已停用", code=code[:16])
    user = current_user()
    assert user is not None  # login_required
    mine = set(user.windows or [])
    groups = [(w, [i for i in cat.items() if i["window"] == w["code"] and i["active"]]) for w in cat.windows()]
    groups = [(w, items) for w, items in groups if items]
    # The person's own windows first: that is what they mostly receive.
    groups.sort(key=lambda g: g[0]["code"] not in mine)
    return render_template("console/counter_pick.html", groups=groups, error=error, code=code[:16], mine=mine), (
        404 if error else 200
    )


@bp.route("/console/counter/<code>", methods=["GET", "POST"])
@login_required()
def form(code: str) -> Any:
    """The catalogue form for the item with this code; on success the case and its first entry are committed."""
    cat = current_catalogue()
    item = cat.item(code)
    if item is None or not item["active"]:
        abort(404, description=_("办理事项不存在或已停用"))
    user = current_user()
    assert user is not None  # login_required
    errors: dict[str, list[str]] = {}
    values: Any = {}
    status = 200
    if request.method == "POST":
        data = intake.form_to_capture(cat, item["code"], request.form)
        complete_now = request.form.get("complete_now") == "1"
        try:
            case = receive(data, request.form.get("village", ""), user, complete_now=complete_now)
        except CounterRefused as refused:
            errors, values, status = _errors_by_field(refused), request.form, 422
        else:
            flash(
                _(
                    "已收件，回执码 %(code)s：%(state)s",
                    code=format_code(case.receipt_code),
                    state=states.label(case.state),
                )
            )
            return redirect(url_for("console.case_view", code=case.receipt_code, received=1))
    return render_template(
        "console/counter_form.html",
        item=item,
        kind_name=KINDS.get(item["kind"], ""),
        window_name=cat.window_name(item["window"]),
        errors=errors,
        values=values,
        brought=request.form.getlist("brought") if values else [],
        applicable=request.form.getlist("applicable") if values else [],
        villages=village_choices(),
        can_complete=item["mode"] == "immediate",
    ), status


@bp.get("/console/case/<code>/receipt")
@login_required()
def receipt(code: str) -> Any:
    """收件回执 of a case, with the QR code of its public status page."""
    case = _case_or_404(code)
    cat = current_catalogue()
    import segno  # only when a receipt is printed

    url = public_url("public_status.status", code=case.receipt_code)
    qr = Markup(segno.make(url, error="m").svg_inline(scale=3))  # nosec B704: SVG segno drew from our own URL
    item = cat.item(case.item_code) or {}
    return render_template(
        "console/receipt.html",
        case=case,
        item=item,
        qr=qr,
        status_url=url,
        window_name=cat.window_name(case.window),
        village=case.village.name,
        brought_names=cat.material_names(case.item_code, case.materials_brought or []),
        missing_names=cat.material_names(case.item_code, case.materials_missing or []),
        first_contact=first_contact(case),
        state_label=states.label(case.state),
    )
