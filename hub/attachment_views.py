"""Scans and photos the village uploaded for a case, viewed by staff of the case's window.

Bytes come from a village PC, so they are served as what they are, not as what they claim:
a JPEG, PNG or PDF whose first bytes agree with it is shown inline, anything else is a download,
always with nosniff and a sandbox so nothing in a file runs on the console's origin.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask import Blueprint, abort, current_app, send_file

from shared.messages import INT32_MAX
from shared.receipt_codes import normalise

from . import audit
from .attachments import stored_path
from .auth import current_user, login_required
from .models import Attachment, Case
from .staff import covers

bp = Blueprint("case_attachments", __name__)

# Shown inline only when the file's first bytes agree with its declared type.
INLINE = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "application/pdf": b"%PDF-"}


def upload_state(att: Attachment) -> str:
    """What the window sees of an attachment's upload."""
    return _("已上传") if att.received else _("上传中（代办点尚未传完，网络恢复后自动续传）")


def rows_for(case: Case) -> list[dict[str, Any]]:
    """The case's attachments with their upload state, in the order announced."""
    return [
        {"att": a, "state": upload_state(a), "kb": max(1, (a.size + 1023) // 1024)}
        for a in Attachment.select().where(Attachment.case == case.request_id).order_by(Attachment.id)
    ]


@bp.get("/console/case/<code>/attachment/<int:att_id>")
@login_required()
def view(code: str, att_id: int) -> Any:
    """One attachment's bytes, for staff of the case's window only (others: 403, recorded)."""
    user = current_user()
    assert user is not None  # login_required
    case = Case.get_or_none(Case.receipt_code == normalise(code)[:12])
    # An id past the column's range is no attachment (PostgreSQL would refuse the comparison).
    att = (
        Attachment.get_or_none((Attachment.id == att_id) & (Attachment.case == case.request_id))
        if case is not None and att_id <= INT32_MAX
        else None
    )
    if case is None or att is None:
        abort(404, description=_("没有这个附件"))
    if not covers(user, case.window):
        audit.record(
            user.username,
            "case.refused_attempt",
            case.receipt_code,
            {"action": "attachment_view", "code": "not_your_window"},
        )
        abort(403, description=_("只有该办件所属窗口的工作人员可以查看附件"))
    if not att.received:
        abort(404, description=_("附件尚未上传完成，请稍后再看"))
    path = stored_path(current_app.config["DATA_DIR"], att.sha256)
    if not path.is_file():
        abort(404, description=_("附件文件不在中心存储中，请联系管理员"))
    with path.open("rb") as fh:
        head = fh.read(8)
    magic = INLINE.get(att.mime or "")
    inline = magic is not None and head.startswith(magic)
    audit.record(user.username, "case.attachment_viewed", case.receipt_code, {"attachment": att.id})
    resp = send_file(
        path,
        mimetype=att.mime if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=(att.name or att.sha256[:12])[:100],
        max_age=0,
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
