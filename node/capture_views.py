"""Capture pages: pick the item, fill the form generated from the catalogue, print notice and receipt."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from shared import intake
from shared.i18n import tr
from shared.msgid import joined
from shared.receipt_codes import format_code, normalise
from shared.validation import FieldError

from . import centre, meta, scheduler
from .auth import current_clerk, login_required
from .capture import CaptureError, capture_request, catalogue
from .models import Request

bp = Blueprint("capture", __name__)

# Roll widths are the two thermal printers village points use (58 mm and 80 mm rolls).
PAPERS = ("a5", "a4", "58mm", "80mm")


def form_to_capture(item_code: str, form: Any) -> dict[str, Any]:
    """The capture dict that node.capture expects, from the posted form (the counter reads it the same way)."""
    return intake.form_to_capture(catalogue(), item_code, form, hold=form.get("submit") == "held")


def errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    """Field name -> messages, for showing each error next to its field."""
    out: dict[str, list[str]] = {}
    for e in errors:
        out.setdefault(e.field or "form", []).append(tr(e.message))
    return out


def _groups(cat: Any) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """The picker's groups: each kind the catalogue names, with its active items (empty kinds left out)."""
    groups = [(k["code"], k["name"], cat.items(k["code"])) for k in cat.kinds()]
    return [g for g in groups if g[2]]


@bp.get("/capture")
@login_required
def pick() -> Any:
    """Choose the kind and item (or type the item code and press Enter)."""
    cat = catalogue()
    code = request.args.get("item", "").strip().upper()
    error = None
    if code:
        item = cat.item(code)
        if item is not None and item["active"]:
            return redirect(url_for("capture.form", item_code=code))
        error = _("办理事项 %(code)s 不存在或已停用", code=code)
    groups = _groups(cat)
    return render_template("capture_pick.html", groups=groups, error=error, code=code), (404 if error else 200)


@bp.route("/capture/<item_code>", methods=["GET", "POST"])
@login_required
def form(item_code: str) -> Any:
    """The capture form for one item; on success the request and its event are committed together."""
    cat = catalogue()
    item = cat.item(item_code)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    brought: list[str] = []
    applicable: list[str] = []
    status = 200
    if request.method == "POST":
        data = form_to_capture(item_code, request.form)
        values = request.form
        brought = data["materials"]["brought"]
        applicable = request.form.getlist("applicable")
        clerk = current_clerk()
        assert clerk is not None
        try:
            req = capture_request(data, clerk.name)
        except CaptureError as exc:
            errors = errors_by_field(exc.errors)
            status = 422
        else:
            if req.state != "held":
                scheduler.kick()
            flash(_("已保存，回执码 %(receipt_code)s", receipt_code=format_code(req.receipt_code)))
            return redirect(url_for("requests.detail", code=req.receipt_code, saved=1))
    # Nothing is ticked as received until the clerk has seen it: a default tick is a promise unchecked.
    if item is None or not item["active"]:
        if not errors:
            abort(404)
        return render_template(
            "capture_pick.html", groups=_groups(cat), error=tr(joined(sum(errors.values(), []))), code=item_code
        ), status
    return render_template(
        "capture_form.html",
        item=item,
        kind_name=cat.kind_name(item["kind"]),
        window_name=cat.window_name(item["window"]),
        errors=errors,
        values=values,
        brought=brought,
        applicable=applicable,
    ), status


def stored_request(code: str) -> Request:
    """The request with this receipt code, or 404."""
    req = Request.get_or_none(Request.receipt_code == normalise(code))
    if req is None:
        abort(404)
    return req


def paper() -> str:
    """A5 unless another known paper was asked for."""
    p = request.args.get("paper", "a5").lower()
    return p if p in PAPERS else "a5"


def status_url(code: str) -> str:
    """The hub's public status page for this code (printed and in the QR code)."""
    hub = (meta.get("hub_url") or "").rstrip("/")
    return f"{hub}/status?code={code}" if hub else ""


@bp.get("/requests/<code>/receipt")
@login_required
def receipt(code: str) -> Any:
    """收件回执, rendered only from the committed request."""
    req = stored_request(code)
    cat = catalogue()
    from .requests_views import outstanding

    url = status_url(req.receipt_code)
    import segno  # only when a receipt is printed

    qr = Markup(segno.make(url, error="m").svg_inline(scale=3)) if url else None
    return render_template(
        "receipt.html",
        req=req,
        item=cat.item(req.item_code) or {},
        paper=paper(),
        qr=qr,
        status_url=url,
        brought_names=cat.material_names(req.item_code, req.materials_brought),
        missing_names=cat.material_names(req.item_code, outstanding(req)),
        village=meta.get("village", ""),
        node_url=request.host_url.rstrip("/") + url_for("status.lookup"),
        centre=centre.contact(),
    )


@bp.get("/requests/<code>/notice")
@login_required
def notice(code: str) -> Any:
    """一次性告知单 at capture: every missing material from the catalogue, procedure and time limit."""
    req = stored_request(code)
    cat = catalogue()
    item = cat.item(req.item_code) or {}
    from .requests_views import delivery, outstanding

    still = outstanding(req)
    missing = [m for m in item.get("materials", []) if m["code"] in still]
    return render_template(
        "notice.html",
        req=req,
        item=item,
        missing=missing,
        paper=paper(),
        window_name=cat.window_name(item.get("window", "")),
        village=meta.get("village", ""),
        delivery=delivery(req),
    )
