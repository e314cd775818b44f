"""Purging personal data from requests closed and acknowledged long ago, keeping a masked summary."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from shared import protocol, states
from shared.validation import mask_name

from .attachments import path_for
from .capture import now
from .db import database
from .models import Attachment, Batch, Event, Request

DEFAULT_DAYS = 180
PERSONAL_KEYS = ("id_number", "phone", "address", "group")


def purge_days() -> int:
    """Days after closing before personal data goes (DAIBAN_NODE_PURGE_DAYS, default 180)."""
    try:
        return max(0, int(os.environ.get("DAIBAN_NODE_PURGE_DAYS", DEFAULT_DAYS)))
    except ValueError:
        return DEFAULT_DAYS


def _closed_at(req: Request) -> datetime:
    if req.status_at:
        try:
            return protocol.parse_iso(req.status_at).replace(tzinfo=None)
        except ValueError:
            pass
    return req.updated_at


def scrub(data: Any, masked: str) -> Any:
    """Event or request data with the applicant masked and free text about them removed."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    if isinstance(out.get("applicant"), dict):
        out["applicant"] = {"name": masked, **{k: "" for k in PERSONAL_KEYS if k in out["applicant"]}}
    if "fields" in out:
        out["fields"] = {}
    for key in ("notes", "note", "name"):
        if key in out and isinstance(out[key], str):
            out[key] = ""
    return out


def due(days: int, at: datetime | None = None) -> list[Request]:
    """Closed requests past the grace period whose every event the hub has acknowledged."""
    cutoff = (at or now()) - timedelta(days=days)
    candidates = Request.select().where(Request.state.in_(sorted(states.TERMINAL)) & ~Request.purged)
    out = []
    for req in candidates:
        if _closed_at(req) > cutoff:
            continue
        unacked = Event.select().where((Event.request_id == req.request_id) & Event.result.is_null()).exists()
        if not unacked:
            out.append(req)
    return out


def purge_closed(days: int | None = None, at: datetime | None = None) -> int:
    """Remove personal fields from due requests, their events, batches and scans; returns how many."""
    days = purge_days() if days is None else days
    with database.atomic():
        reqs = due(days, at)
        for req in reqs:
            masked = mask_name(req.applicant_name)
            for ev in Event.select().where(Event.request_id == req.request_id):
                Event.update(data=scrub(ev.data, masked)).where(Event.id == ev.id).execute()
            Request.update(
                applicant_name=masked,
                id_number="",
                id_tail="",
                phone="",
                address="",
                data=scrub(req.data, masked),
                note=None,
                purged=True,
                updated_at=now(),
            ).where(Request.request_id == req.request_id).execute()
        _drop_signed_copies()
        files = _unused_scans()
    for path in files:
        path.unlink(missing_ok=True)
    return len(reqs)


def _drop_signed_copies() -> None:
    """Acked batches keep the signed original bytes; drop them once every request in them is purged."""
    purged = Request.select(Request.request_id).where(Request.purged)
    live = Event.select(Event.batch).where(Event.batch.is_null(False) & ~Event.request_id.in_(purged))
    Batch.update(envelope=b"").where((Batch.state == "acked") & ~Batch.id.in_(live) & (Batch.envelope != b"")).execute()


def _unused_scans() -> list[Any]:
    """Scan files used only by purged requests and already held by the hub."""
    purged = {r.request_id for r in Request.select(Request.request_id).where(Request.purged)}
    by_sha: dict[str, list[Attachment]] = {}
    for att in Attachment.select():
        by_sha.setdefault(att.sha256, []).append(att)
    out = []
    for sha, atts in by_sha.items():
        if all(a.request_id in purged and a.uploaded_at is not None for a in atts):
            Attachment.update(name="").where(Attachment.sha256 == sha).execute()
            out.append(path_for(sha))
    return out


def purge_job() -> None:
    """The scheduled daily purge; opens its own connection and logs instead of raising."""
    import logging

    log = logging.getLogger("daiban.node.purge")
    try:
        with database.connection_context():
            n = purge_closed()
        if n:
            log.info("purged personal data of %d closed requests", n)
    except Exception:  # a failed purge must not stop sync; it is logged for the admin
        log.exception("purge failed")


def schedule(scheduler: Any) -> None:
    """Add the daily purge to the node's one scheduler."""
    scheduler.add_job(
        purge_job,
        "interval",
        days=1,
        id="purge",
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now() + timedelta(minutes=10),
        replace_existing=True,
    )
