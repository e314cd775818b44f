"""USB bundles from the sync panel: download the node's bundle for the hub, upload the hub's answer.

A big bundle takes a while to build or apply. The work runs in a thread; the clerk's request
waits for it a few seconds (BUNDLE_WAIT_SECONDS) and, when it is not done by then, goes to the
bundle page, which shows what is done and what remains and refreshes itself until the download
(or the import's result) is ready.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, send_file, url_for

from shared.bundle import BundleError
from shared.china_time import CHINA_TZ

from . import meta, progress
from .auth import login_required
from .bundles import ExportResult, ImportResult, box_key, build_bundle, import_response
from .db import database
from .sync_panel import _round_lock
from flask_babel import gettext as _

from shared.i18n import tr

bp = Blueprint("bundle_views", __name__)

BUSY = "后台正在同步，请稍后再试（同步与数据包不能同时进行）"
WAIT_SECONDS = 10.0
JOB = "daiban_bundle_job"


@dataclass
class BundleJob:
    """One export or import running (or finished) in this process."""

    kind: str  # export | import
    done: threading.Event = field(default_factory=threading.Event)
    result: ExportResult | ImportResult | None = None
    raw: bytes = b""
    filename: str = ""
    error: BundleError | None = None
    reported: bool = False


def _start(app: Flask, kind: str, work: Callable[[], Any]) -> BundleJob:
    """Run the work in a thread that holds the sync lock (taken by the caller) until it ends."""
    job = BundleJob(kind)
    app.extensions[JOB] = job

    def run() -> None:
        try:
            with app.app_context(), database.connection_context():
                out = work()
            if kind == "export":
                job.result, job.raw = out
            else:
                job.result = out
        except BundleError as exc:
            job.error = exc
        finally:
            _round_lock.release()
            job.done.set()

    threading.Thread(target=run, name=f"bundle-{kind}", daemon=True).start()
    return job


def _wait(job: BundleJob) -> bool:
    database.close()  # the worker has its own connection; SQLite would wait on ours
    return job.done.wait(float(current_app.config.get("BUNDLE_WAIT_SECONDS", WAIT_SECONDS)))


def bundle_filename(village: str | None, when: datetime | None = None) -> str:
    """daiban-<village>-<Beijing date>.bundle, what the clerk sees on the USB stick."""
    day = (when or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ).strftime("%Y-%m-%d")
    safe = "".join(c for c in (village or "") if c.isalnum()) or "node"
    return f"daiban-{safe}-{day}.bundle"


@bp.post("/sync/bundle/export")
@login_required
def export() -> Any:
    """The encrypted, signed bundle of everything pending: a download, or the bundle page while it is built."""
    # A sync round cuts batches too; one at a time keeps bundle and HTTP from sending different cuts.
    if not _round_lock.acquire(blocking=False):
        flash(BUSY, "error")
        return redirect(url_for("sync_panel.panel"))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    key = app.extensions["daiban_node_key"]
    job = _start(app, "export", lambda: build_bundle(key))
    job.filename = bundle_filename(meta.get("village"))
    if not _wait(job):
        return redirect(url_for("bundle_views.page"))
    return _export_answer(job)


def _export_answer(job: BundleJob) -> Any:
    if job.error is not None:
        job.reported = True
        flash(_("导出失败：%(message)s", message=tr(job.error.message)), "error")
        return redirect(url_for("sync_panel.panel"))
    result = job.result
    assert isinstance(result, ExportResult)
    resp = send_file(
        io.BytesIO(job.raw),
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=job.filename,
        max_age=0,
    )
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Daiban-Bundle"] = (
        f"batches={result.batches}; events={result.events}; attachments={result.attachments}"
    )
    return resp


@bp.get("/sync/bundle/export/file")
@login_required
def export_file() -> Any:
    """The bundle built in the background, once it is ready."""
    job = current_app.extensions.get(JOB)
    if job is None or job.kind != "export" or not job.done.is_set():
        return redirect(url_for("bundle_views.page"))
    return _export_answer(job)


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
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    key, box = app.extensions["daiban_node_key"], box_key(app.config["DATA_DIR"])
    job = _start(app, "import", lambda: import_response(raw, key, box))
    if not _wait(job):
        return redirect(url_for("bundle_views.page"))
    _report_import(job)
    return redirect(url_for("sync_panel.panel"))


def _report_import(job: BundleJob) -> None:
    """Say once what the import changed (or why it changed nothing)."""
    if job.reported:
        return
    job.reported = True
    exc = job.error
    if exc is not None:
        if exc.code == "replayed":  # not a failure: its answers are already applied
            flash(tr(exc.message))
        else:
            flash(_("导入失败：%(message)s", message=tr(exc.message)), "error")
        return
    result = job.result
    assert isinstance(result, ImportResult)
    flash(_("已导入回复包：%(summary)s", summary=result.summary()))
    for message in result.messages:
        flash(message, "error")


@bp.get("/sync/bundle")
@login_required
def page() -> Any:
    """How far the export or import has got; refreshes itself until it ends."""
    job: BundleJob | None = current_app.extensions.get(JOB)
    if job is not None and job.kind == "import" and job.done.is_set():
        _report_import(job)
    running = progress.current()
    if job is None and (running is None or running.kind == "sync"):
        return redirect(url_for("sync_panel.panel"))  # nothing of its own to show: the USB section is there
    finished = progress.last(job.kind) if job is not None else None
    return render_template(
        "bundle.html", job=job, running=running if running and running.kind != "sync" else None, finished=finished
    )
