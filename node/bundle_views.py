"""USB bundles from the sync panel: download the node's bundle for the hub, upload the hub's answer."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, send_file, url_for

from shared.bundle import BundleError
from shared.china_time import CHINA_TZ

from . import meta
from .auth import login_required
from .bundles import box_key, build_bundle, import_response
from .sync_panel import _round_lock
from flask_babel import gettext as _

bp = Blueprint("bundle_views", __name__)

BUSY = "后台正在同步，请稍后再试（同步与数据包不能同时进行）"


def bundle_filename(village: str | None, when: datetime | None = None) -> str:
    """daiban-<village>-<Beijing date>.bundle, what the clerk sees on the USB stick."""
    day = (when or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ).strftime("%Y-%m-%d")
    safe = "".join(c for c in (village or "") if c.isalnum()) or "node"
    return f"daiban-{safe}-{day}.bundle"


@bp.post("/sync/bundle/export")
@login_required
def export() -> Any:
    """The encrypted, signed bundle of everything pending, as a file download."""
    # A sync round cuts batches too; one at a time keeps bundle and HTTP from sending different cuts.
    if not _round_lock.acquire(blocking=False):
        flash(BUSY, "error")
        return redirect(url_for("sync_panel.panel"))
    try:
        result, raw = build_bundle(current_app.extensions["daiban_node_key"])
    except BundleError as exc:
        flash(_("导出失败：%(message)s", message=exc.message), "error")
        return redirect(url_for("sync_panel.panel"))
    finally:
        _round_lock.release()
    resp = send_file(io.BytesIO(raw), mimetype="application/octet-stream", as_attachment=True,
                     download_name=bundle_filename(meta.get("village")), max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Daiban-Bundle"] = (f"batches={result.batches}; events={result.events}; "
                                       f"attachments={result.attachments}")
    return resp


@bp.post("/sync/bundle/import")
@login_required
def import_() -> Any:
    """Apply the hub's response bundle and say what it changed; a bad bundle changes nothing."""
    file = request.files.get("file")
    if file is None or not file.filename:
        flash(_("请选择乡镇中心给出的回复包文件"), "error")
        return redirect(url_for("sync_panel.panel"))
    raw = file.read()
    if not _round_lock.acquire(blocking=False):
        flash(BUSY, "error")
        return redirect(url_for("sync_panel.panel"))
    try:
        result = import_response(raw, current_app.extensions["daiban_node_key"],
                                 box_key(current_app.config["DATA_DIR"]))
    except BundleError as exc:
        if exc.code == "replayed":  # not a failure: its answers are already applied
            flash(exc.message)
        else:
            flash(_("导入失败：%(message)s", message=exc.message), "error")
        return redirect(url_for("sync_panel.panel"))
    finally:
        _round_lock.release()
    flash(_("已导入回复包：%(summary)s", summary=result.summary()))
    for message in result.messages:
        flash(message, "error")
    return redirect(url_for("sync_panel.panel"))
