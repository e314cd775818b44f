"""The sync panel: where the queue stands, in plain words, and a button to sync now."""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for

from shared import protocol, signing

from . import meta, outbox, progress, reconcile, scheduler
from .attachments import pending_summary
from .auth import current_clerk, login_required
from .capture import now
from .db import database
from .models import Event
from .sync import SyncClient, SyncError
from .transport import HttpTransport
from flask_babel import gettext as _

from shared.i18n import tr

bp = Blueprint("sync_panel", __name__)

# One round at a time per process, whether the button or the background job starts it.
_round_lock = threading.Lock()
NOW_WAIT_SECONDS = 20.0


def sync_client(app: Flask) -> SyncClient | None:
    """The process's one SyncClient (so the resume check happens once), or None when not enrolled."""
    client = app.extensions.get("daiban_sync_client")
    if client is None:
        with database.connection_context():
            hub_url = meta.get("hub_url")
            pin = meta.get("hub_cert_sha256")
        if not hub_url:
            return None
        client = SyncClient(HttpTransport(hub_url, pin=pin), app.extensions["daiban_node_key"])
        app.extensions["daiban_sync_client"] = client
    return client


def run_round(app: Flask, wait: bool | float = True):  # type: ignore[no-untyped-def]
    """Run one sync round under the process lock; raises SyncError on trouble.

    wait=True waits for a running round (the background job) to end; a number waits at most that
    many seconds; False does not wait.
    """
    client = sync_client(app)
    if client is None:
        raise SyncError(_("本代办点尚未注册到乡镇中心"), "not_enrolled")
    got = (
        _round_lock.acquire(blocking=bool(wait)) if isinstance(wait, bool) else _round_lock.acquire(timeout=float(wait))
    )
    if not got:
        raise SyncError(_("后台正在同步，请稍后刷新本页查看结果"), "busy")
    try:
        return client.round()
    finally:
        _round_lock.release()


def _age(dt: Any) -> str:
    if dt is None:
        return ""
    seconds = int((now() - dt).total_seconds())
    if seconds < 60:
        return _("%(seconds)s 秒", seconds=seconds)
    if seconds < 3600:
        return _("%(seconds)s 分钟", seconds=seconds // 60)
    if seconds < 86400:
        return _("%(seconds)s 小时 %(seconds2)s 分钟", seconds=seconds // 3600, seconds2=seconds % 3600 // 60)
    return _("%(seconds)s 天", seconds=seconds // 86400)


def panel_facts() -> dict[str, Any]:
    """Everything the panel shows, read from the database."""
    queued, queued_bytes = progress.queued_totals()
    pending = outbox.pending_batch()
    hub_pub = meta.get("hub_pubkey")
    att_count, att_bytes = pending_summary()
    running = scheduler._scheduler is not None  # read-only peek at the scheduler for the panel
    return {
        "enrolled": bool(meta.get("hub_url")),
        "hub_url": meta.get("hub_url"),
        "village": meta.get("village"),
        "last_ok": meta.get("last_sync_ok"),
        "last_error": meta.get("last_error"),
        "last_error_at": meta.get("last_error_at"),
        "next_try": int(scheduler.next_try_in()) if running else None,
        "queued": queued,
        "queued_bytes": queued_bytes,
        "running": progress.current(),
        "last_round": progress.last("sync"),
        "pending": pending,
        "pending_age": _age(pending.created_at) if pending else "",
        "clock_offset": meta.get("clock_offset_s"),
        "fingerprint": signing.fingerprint(hub_pub) if hub_pub else None,
        "quarantined": list(Event.select().where(Event.quarantined).order_by(Event.id)),
        "acked_seq": meta.get("acked_seq", 0),
        "attachments_pending": att_count,
        "attachments_pending_kb": (att_bytes + 1023) // 1024,
        "now": protocol.iso(protocol.utcnow()),
        "forgotten": reconcile.forgotten_rows(),
        "last_reconcile": meta.get("last_reconcile"),
        "reconciling": reconcile.pending(),
        "requeued": list(reversed(meta.get(outbox.REQUEUE_LOG) or []))[:20],
    }


@bp.app_template_global()
def hub_forgot(request_id: str) -> list[Any]:
    """Decisions on this request that a hub restore withdrew (for the request page)."""
    return reconcile.forgotten_for(request_id)


@bp.get("/sync")
@login_required
def panel() -> Any:
    """Show the sync state; opening it asks the background job to try now (not the page's own refresh)."""
    if not request.args.get("watch"):
        scheduler.kick()
    return render_template("sync.html", f=panel_facts())


@bp.post("/sync/requeue/<int:event_pk>")
@login_required
def requeue(event_pk: int) -> Any:
    """Put a quarantined record back in the queue (recorded in the node's requeue log)."""
    clerk = current_clerk()
    try:
        outbox.requeue(event_pk, clerk.username if clerk else "?")
    except outbox.RequeueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("sync_panel.panel"), 303)
    flash(_("已放回待上传，下次同步时重新发送"))
    scheduler.kick()
    return redirect(url_for("sync_panel.panel"), 303)


@bp.post("/sync/now")
@login_required
def sync_now() -> Any:
    """Run one round now and show what happened."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if progress.current() is not None:
        # A long round (or a bundle) is under way: show how far it has got rather than wait on it.
        flash(_("后台正在同步，进度见本页上方"))
        return redirect(url_for("sync_panel.panel", watch=1))
    database.close()  # the round opens its own connections
    try:
        # Opening this page starts a background round; wait for it briefly rather than tell the
        # clerk "busy" — a round with little to send ends in seconds, a slow 2G one does not.
        report = run_round(app, wait=NOW_WAIT_SECONDS)
    except SyncError as exc:
        flash(_("同步失败：%(message)s", message=tr(exc.message)), "error")
    else:
        flash(_("同步完成：%(summary)s", summary=tr(report.summary())))
    return redirect(url_for("sync_panel.panel"))
