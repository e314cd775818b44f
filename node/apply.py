"""Applying the hub's signed answer: acks, the village's status updates, catalogue, resume point."""

from __future__ import annotations

from typing import Any

import peewee

from shared import encoding, protocol, states
from shared.bulk_rows import Encoder, bound_rows, chunks, insert_rows

from . import meta, outbox
from .capture import now
from .db import JSONField, database
from .models import Batch, Event, HubUpdate, Request
from .transport import trace

# Hub actions that the clerk must see and usually print for the villager.
ATTENTION_ACTIONS = {"accept", "ask_materials", "refuse", "approve", "deny", "county_approve", "county_deny"}


def apply_response(body: dict[str, Any], batch: Batch | None) -> dict[str, int]:
    """Apply one verified response in a single transaction; returns what changed.

    `reconcile` is 1 when the answer shows the hub's log is not the one this node holds
    (a new epoch, or another entry at the node's cursor): its updates are then left alone and
    the village's log is fetched anew (node/reconcile.py). `gap` is 1 when the updates do not
    continue from the cursor; `hub_lost` is 1 when the hub holds fewer of our events than it
    acknowledged (it must be asked where we stand again).
    """
    from . import reconcile

    counts = {"acked": 0, "refused": 0, "updates": 0, "reconcile": 0, "gap": 0, "hub_lost": 0}
    with database.atomic():
        ack = body.get("ack")
        if batch is not None and ack and ack.get("batch_hash") == batch.hash:
            counts.update(_apply_ack(batch, ack))
        updates = body.get("updates") or []
        if reconcile.pending() is not None:
            # Already rebuilding: a newer epoch restarts it; ordinary updates wait for the rebuilt log.
            reconcile.follow_epoch(body)
        elif reconcile.log_differs(body, updates):
            reconcile.start(body.get("epoch"))
            counts["reconcile"] = 1
        else:
            counts["updates"], counts["gap"] = apply_updates(updates)
            if isinstance(body.get("epoch"), str) and meta.get("hub_epoch") is None:
                meta.put("hub_epoch", body["epoch"])
        if isinstance(body.get("last_seq"), int) and body["last_seq"] < int(meta.get("acked_seq", 0)):
            counts["hub_lost"] = 1
        catalogue = body.get("catalogue")
        if isinstance(catalogue, dict) and int(catalogue.get("version", 0)) > int(meta.get("catalogue_version", 0)):
            meta.put("catalogue", catalogue)
            meta.put("catalogue_version", int(catalogue["version"]))
        _record_success(body)
    return counts


def _record_success(body: dict[str, Any]) -> None:
    meta.put("last_sync_ok", protocol.iso(protocol.utcnow()))
    meta.put("last_error", None)
    try:
        hub_time = protocol.parse_iso(body["hub_time"])
        meta.put("clock_offset_s", int((protocol.utcnow() - hub_time).total_seconds()))
    except (KeyError, ValueError):
        pass


def _apply_ack(batch: Batch, ack: dict[str, Any]) -> dict[str, int]:
    refused = {r["seq"]: r for r in ack.get("results", []) if r.get("status") == "refused"}
    Event.update(result="ok").where(Event.batch == batch.id).execute()
    for seq, r in refused.items():
        Event.update(result="refused", result_message=r.get("message")).where(Event.seq == seq).execute()
    Batch.update(state="acked", last_error=None).where(Batch.id == batch.id).execute()
    if batch.last_seq > int(meta.get("acked_seq", 0)):
        meta.put("acked_seq", batch.last_seq)
    return {"acked": batch.last_seq - batch.first_seq + 1, "refused": len(refused)}


def apply_updates(updates: list[dict[str, Any]]) -> tuple[int, int]:
    """Apply the hub's entries that continue from our cursor, each once; returns (applied, gap).

    The cursor moves only to the last entry applied, never to a number the answer merely names,
    so a node never holds a position the hub did not give it entries up to.
    """
    trace("updates")
    cursor = int(meta.get("cursor", 0))
    run, gap = _continuing(updates, cursor)
    if not run:
        return 0, gap
    # Rows above the cursor can only be leftovers of a log the hub no longer holds.
    HubUpdate.delete().where(HubUpdate.cseq > cursor).execute()
    # Only what an update reads of a request: whether it is here, and its window (kept when the
    # update names none). Plain rows: no model instance per request, no JSON column decoded.
    current = _windows([up.get("request_id") for up in run])
    rows: list[tuple[Any, ...]] = []
    changes: dict[str, dict[str, Any]] = {}
    # Both columns it goes to are required date-times, bound as this text (_hub_json_for): printed once.
    at = str(now())
    for up in run:
        rows.append((up["cseq"], up.get("request_id", ""), up.get("type", ""), up, at))
        rid = up.get("request_id")
        if up.get("type") == "case.corrected":
            # Captured fields, not status: written at once (the status columns below are not touched).
            from .corrections import apply_from_hub

            apply_from_hub(up)
        if rid in current:
            # Set straight into what the request's earlier updates set: no dict per update merged in.
            _set_status(changes.setdefault(rid, {}), up, *current[rid], at)
    _executemany(HubUpdate, ("cseq", "request_id", "type", "body", "applied_at"), rows)
    _write_requests(changes)
    meta.put("cursor", run[-1]["cseq"])
    return len(rows), gap


def _continuing(updates: list[dict[str, Any]], cursor: int) -> tuple[list[dict[str, Any]], int]:
    """The entries that continue from `cursor` without a hole, and 1 when some later entry was left out."""
    # As the hub sends them: every entry, in order, from the cursor on. Checked in one comparison
    # (it is on the way from an answer to the next upload, node/sync._sign_ahead); anything else is
    # sorted out below. Numbers equal to these are ints: encoding.parse refuses floats.
    if [up.get("cseq") for up in updates] == list(range(cursor + 1, cursor + 1 + len(updates))):
        return list(updates), 0
    fresh = sorted(
        (up for up in updates if isinstance(up.get("cseq"), int) and up["cseq"] > cursor), key=lambda up: up["cseq"]
    )
    run: list[dict[str, Any]] = []
    for up in fresh:
        if up["cseq"] != cursor + len(run) + 1:
            break
        run.append(up)
    return run, int(len(run) < len(fresh))


def cursor_after(body: dict[str, Any], batch: Batch) -> int | None:
    """The cursor apply_response(body, batch) will leave, for a plain answer; None for any other.

    Plain: the batch's ack, no error, the log this node holds, updates without a hole, the hub
    holding all we sent. Only then may the next batch be signed before this answer is applied
    (node/sync.py); anything else is handled one step at a time, as it always was.
    """
    from . import reconcile

    ack = body.get("ack")
    if body.get("error") or not isinstance(ack, dict) or ack.get("batch_hash") != batch.hash:
        return None
    updates = body.get("updates") or []
    if reconcile.pending() is not None or reconcile.log_differs(body, updates):
        return None
    acked = max(int(meta.get("acked_seq", 0)), batch.last_seq)
    if not isinstance(body.get("last_seq"), int) or body["last_seq"] < acked:
        return None
    cursor = int(meta.get("cursor", 0))
    run, gap = _continuing(updates, cursor)
    if gap:
        return None
    return int(run[-1]["cseq"]) if run else cursor


def _update_request(req: Request, up: dict[str, Any]) -> None:
    for name, value in _status_changes(up, req.window, req.window_name, now()).items():
        setattr(req, name, value)


# The columns an update from the hub may change on a request, in the order they are written.
_STATUS_FIELDS = (
    "state",
    "window",
    "window_name",
    "deadline",
    "hub_missing",
    "hub_missing_names",
    "reason",
    "legal_basis",
    "note",
    "status_at",
    "needs_attention",
    "updated_at",
)


def _status_changes(up: dict[str, Any], window: str | None, window_name: str | None, at: Any) -> dict[str, Any]:
    """The status columns an update sets on its request (`window`: what the request shows now)."""
    changes: dict[str, Any] = {}
    _set_status(changes, up, window, window_name, at)
    return changes


def _set_status(
    changes: dict[str, Any], up: dict[str, Any], window: str | None, window_name: str | None, at: Any
) -> None:
    """Set in `changes` the status columns an update sets, over those earlier updates set there.

    `window`, `window_name`: what the request shows; a window an earlier update set in `changes` comes first.
    """
    if up.get("type") == "case.status" and up.get("state") in states.LABELS:
        changes["state"] = up["state"]
        changes["window"] = up.get("window") or changes.get("window", window)
        changes["window_name"] = up.get("window_name") or changes.get("window_name", window_name)
        changes["deadline"] = up.get("deadline")
        changes["hub_missing"] = up.get("missing") or []
        changes["hub_missing_names"] = up.get("missing_names") or []
        changes["reason"] = up.get("reason")
        changes["legal_basis"] = up.get("legal_basis")
        changes["note"] = up.get("note")
        changes["status_at"] = up.get("at")
        # A request the hub flags as a duplicate (两头受理) needs the clerk as much as a decision does.
        if up.get("action") in ATTENTION_ACTIONS or up.get("duplicate_of"):
            changes["needs_attention"] = True
    elif up.get("type") == "event.refused":
        if up.get("state") == states.INVALID:
            changes["state"] = states.INVALID
        changes["reason"] = up.get("message")
        changes["needs_attention"] = True
    changes["updated_at"] = at


def _windows(request_ids: list[Any]) -> dict[str, tuple[str | None, str | None]]:
    """request_id -> (window, window_name) of the requests this node holds among the ids."""
    fields = [Request._meta.fields[n] for n in ("request_id", "window", "window_name")]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    found: dict[str, tuple[str | None, str | None]] = {}
    for chunk in chunks(request_ids):
        # Column and table names come from the model's metadata, never from input; every value is bound.
        sql = (
            f'SELECT {columns} FROM "{Request._meta.table_name}" '  # nosec B608
            f'WHERE "{fields[0].column_name}" IN ({", ".join("?" * len(chunk))})'
        )
        found.update((rid, (window, name)) for rid, window, name in database.execute_sql(sql, chunk).fetchall())
    return found


def _write_requests(changes: dict[str, dict[str, Any]]) -> None:
    """Save the status columns each request's updates set: one prepared UPDATE per set of columns."""
    by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for request_id, changed in changes.items():
        # The columns in the order the request's updates set them first (most share one order).
        by_columns.setdefault(tuple(changed), []).append((*changed.values(), request_id))
    for names, rows in by_columns.items():
        # Bound as peewee binds them (each field's db_value), column by column (shared/bulk_rows).
        table, _, params = bound_rows(Request, (*names, "request_id"), rows, _hub_json_for)
        sets = ", ".join(f'"{Request._meta.fields[name].column_name}" = ?' for name in names)
        # Column and table names come from the model's metadata, never from input; every value is bound.
        database.obj.cursor().executemany(f'UPDATE {table} SET {sets} WHERE "request_id" = ?', params)  # nosec B608


def _executemany(model: Any, names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """INSERT the hub's entries with one prepared statement, bound as peewee binds them but for JSON.

    JSON columns take the hub's values as its answer carried them (_hub_json).
    """
    insert_rows(database.obj.cursor(), model, names, rows, encoder_for=_hub_json_for)


def _hub_json(value: Any) -> str | None:
    """A value from the hub's verified answer, as JSON text for a JSONField column.

    What encoding.parse decoded is plain JSON (no NaN or infinity, plain str): msgspec writes it
    as json.dumps would read it back, at a seventh of the cost of JSONField.db_value's
    json.dumps (the text is compact rather than spaced; every reader decodes it).
    """
    if value is None:
        return None
    if value.__class__ is list and not value:
        return "[]"  # most requests' missing materials and their names: nothing
    return encoding.canonical_message(value).decode()


_HUB_JSON = Encoder(_hub_json)
_AS_TEXT = Encoder(str, frozenset({str}))


def _hub_json_for(field: Any) -> Encoder | None:
    """shared.bulk_rows encoder_for: _hub_json for JSON columns, each field's own db_value for the rest.

    A required date-time column (when the node applied the entry) gets str(), in C, the text
    sqlite3's default adapter writes (datetime.isoformat(" ")) through a Python call per value;
    apply_updates gives that text already, kept as it is.
    """
    if isinstance(field, JSONField):
        return _HUB_JSON
    if isinstance(field, peewee.DateTimeField) and not field.null:
        return _AS_TEXT
    return None


def apply_resume(body: dict[str, Any]) -> bool:
    """Align the local chain with where the hub says this node stands (the hub is the authority).

    Returns True when more history remains to fetch.
    """
    hub_seq = int(body["last_seq"])
    hub_hash = str(body["last_hash"])
    with database.atomic():
        # Numbers drafted ahead are not the chain's (outbox.draft): the history may give them otherwise.
        outbox.drop_draft()
        local_seq = int(meta.get("next_seq", 1)) - 1
        # Batches the hub already holds were delivered even if their ack was lost.
        held = Batch.select().where((Batch.state == "pending") & (Batch.last_seq <= hub_seq))
        for b in held:
            Event.update(result="ok").where((Event.batch == b.id) & Event.result.is_null()).execute()
            Batch.update(state="acked").where(Batch.id == b.id).execute()
        # Batches the hub does not hold (a hub restored from backup) go again, byte for byte.
        Batch.update(state="pending").where(Batch.first_seq > hub_seq).execute()
        history = body.get("history") or []
        for ev in history:
            _restore_event(ev)
        if hub_seq >= local_seq:
            meta.put("next_seq", hub_seq + 1)
            meta.put("last_hash", hub_hash)
        # History comes a page at a time: the next hello asks from the end of this page.
        meta.put("acked_seq", min(hub_seq, history[-1]["seq"]) if history else hub_seq)
    return bool(body.get("more"))


def _restore_event(ev: dict[str, Any]) -> None:
    """Put back an event this node signed but lost (restored from an old backup, or a replacement PC)."""
    if Event.get_or_none(Event.event_id == ev["id"]) is not None:
        Event.update(seq=ev["seq"], result="ok").where((Event.event_id == ev["id"]) & Event.seq.is_null()).execute()
        return
    if Event.get_or_none(Event.seq == ev["seq"]) is not None:
        return
    Event.create(
        event_id=ev["id"],
        seq=ev["seq"],
        type=ev["type"],
        request_id=ev["request_id"],
        clerk=ev.get("clerk", ""),
        at=ev.get("at", ""),
        data=ev["data"],
        result="ok",
    )
    if ev["type"] == "request.captured" and Request.get_or_none(Request.request_id == ev["request_id"]) is None:
        data = ev["data"]
        applicant = data.get("applicant", {})
        Request.create(
            request_id=ev["request_id"],
            receipt_code=data["receipt_code"],
            item_code=data["item_code"],
            kind=data["item_code"][:2],
            applicant_name=applicant.get("name", ""),
            id_number=applicant.get("id_number", ""),
            id_tail=applicant.get("id_number", "")[-4:],
            phone=applicant.get("phone", ""),
            address=applicant.get("address", ""),
            data=data,
            materials_brought=data.get("materials", {}).get("brought", []),
            materials_missing=data.get("materials", {}).get("missing", []),
            state=states.RECEIVED,
            clerk=ev.get("clerk", ""),
            created_at=now(),
            updated_at=now(),
        )
        # Status updates may have arrived before the history that names their request: replay them.
        req = Request.get(Request.request_id == ev["request_id"])
        for up in HubUpdate.select().where(HubUpdate.request_id == ev["request_id"]).order_by(HubUpdate.cseq):
            _update_request(req, up.body)
        req.save()
    elif ev["type"] == "request.corrected":
        # The clerk's correction, restored: the local copy takes the corrected value again.
        from .corrections import apply_from_hub

        apply_from_hub({"request_id": ev["request_id"], **(ev.get("data") or {})})
