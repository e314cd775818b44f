"""Scans and photos on the request page: upload one, and show a request's images to the logged-in clerk."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from shared.chunks import MAX_ATTACHMENT_BYTES

from . import scheduler
from .attachments import AttachmentError, add_attachment, for_request, path_for
from .auth import current_clerk, login_required
from .capture import catalogue
from .capture_views import stored_request
from .requests_views import render_detail
from flask_babel import gettext as _

from shared.i18n import tr

bp = Blueprint("attachment_views", __name__)

SHA256 = re.compile(r"[0-9a-f]{64}")


@bp.post("/requests/<code>/attachments")
@login_required
def upload(code: str) -> Any:
    """Store one scan or photo for the request; a refused file is explained next to the form."""
    req = stored_request(code)
    file = request.files.get("file")
    material = request.form.get("material") or None
    known = {m["code"] for m in catalogue().materials(req.item_code)}
    if file is None or not file.filename:
        return render_detail(req, 400, attach_error=_("请选择要添加的照片或扫描件"), attach_material=material)
    if material is not None and material not in known:
        return render_detail(req, 400, attach_error=_("请从本事项的材料清单中选择这份附件对应的材料"))
    clerk = current_clerk()
    assert clerk is not None
    data = file.read()  # bounded by MAX_CONTENT_LENGTH; add_attachment refuses anything above its own limit
    try:
        att = add_attachment(req.receipt_code, file.filename, data, clerk.name, material)
    except AttachmentError as exc:
        return render_detail(req, 400, attach_error=tr(exc.message), attach_material=material)
    scheduler.kick()
    flash(_("附件已保存：%(name)s（%(size)s KB），将随同步上传到中心", name=att.name, size=att.size // 1024 + 1))
    return redirect(url_for("requests.detail", code=req.receipt_code))


@bp.get("/requests/<code>/attachments/<sha>.jpg")
@login_required
def image(code: str, sha: str) -> Any:
    """One of this request's images, by its hash (never a path from the browser)."""
    req = stored_request(code)
    if not SHA256.fullmatch(sha) or sha not in {a.sha256 for a in for_request(req.request_id)}:
        abort(404)
    path = path_for(sha)
    if not path.is_file():
        abort(404)
    resp = send_file(path, mimetype="image/jpeg", max_age=0)
    # Scans of ID cards: never left in a shared browser's cache.
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
    """An upload beyond the app's request limit: nothing was read, nothing stored."""
    return render_template(
        "error.html",
        title=_("文件过大"),
        message=_(
            "上传的文件过大，单个附件不能超过 %(MAX_ATTACHMENT_BYTES)s MB，未保存任何内容。请返回后换一个较小的文件。",
            MAX_ATTACHMENT_BYTES=MAX_ATTACHMENT_BYTES // 1024 // 1024,
        ),
    ), 413
