"""The outbox: events wait here, get their gapless seq when signed into a batch, and leave on the hub's ack."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import encoding, protocol, signing

from . import meta
from .capture import now
from .db import JSONField, database
from .models import Batch, Event

APP_VERSION = "0.1.0"


def wire_event(row: tuple[Any, ...], seq: int) -> dict[str, Any]:
    """An event as it travels in a batch, from its row as _unsigned reads it."""
    _pk, event_id, type_, request_id, at, clerk, data = row
    return {
        "seq": seq,
        "id": event_id,
        "type": type_,
        "request_id": request_id,
        "at": at,
        "clerk": clerk,
        "data": encoding.load_stored(data),
    }


def queued_count() -> int:
    """Events not yet acknowledged by the hub."""
    return Event.select().where(Event.result.is_null() & ~Event.quarantined).count()


def pending_batch() -> Batch | None:
    """The oldest signed batch still waiting for the hub's answer."""
    return Batch.select().where(Batch.state == "pending").order_by(Batch.first_seq).first()


# Called with a new batch's envelope as soon as it is signed, before it is stored (`sealed` below).
Sealed = Callable[[bytes], None]


def next_batch(key: Ed25519PrivateKey, max_bytes: int, max_events: int, sealed: Sealed | None = None) -> Batch | None:
    """The batch to send next: a pending one as it was signed, or a new one of unsigned events.

    `sealed`: told the envelope of a batch signed now, before it is stored and committed (node/sync
    compresses it meanwhile); it must not send it: a batch leaves only once it is stored (rule 6).
    """
    with database.atomic():
        pending = pending_batch()
        if pending is not None:
            return pending
        return _cut(key, max_bytes, max_events, int(meta.get("cursor", 0)), 0, sealed=sealed)


def batch_after(
    key: Ed25519PrivateKey,
    max_bytes: int,
    max_events: int,
    after: Batch,
    cursor: int,
    draft: "Draft | None" = None,
    sealed: Sealed | None = None,
) -> Batch | None:
    """The batch that follows `after` on the chain while `after`'s answer is still being applied.

    A pending one signed earlier goes as it was; otherwise unsigned events are signed now, naming
    `cursor` (where the node will stand once that answer is applied) and not counting `after`'s
    events as still queued. `draft`: the events already encoded while `after` travelled (Draft);
    `sealed`: as for next_batch.
    """
    with database.atomic():
        pending = (
            Batch.select()
            .where((Batch.state == "pending") & (Batch.first_seq > after.last_seq))
            .order_by(Batch.first_seq)
            .first()
        )
        if pending is not None:
            return pending if pending.first_seq == after.last_seq + 1 else None
        return _cut(key, max_bytes, max_events, cursor, after.last_seq - after.first_seq + 1, draft, sealed)


class Draft:
    """The next unsigned events, encoded ahead while the batch before them is at the hub.

    Encoding the events is most of cutting a batch, and none of it depends on the answer the
    node waits for: done while the hub ingests the batch before, it leaves only the signature
    (which names the cursor that answer leaves) between the answer and the next upload. The
    cut reuses an encoding only for the very row and seq it was made from (Draft.encoded), so a
    row changed or a queue moved since costs the encoding again, never different bytes.
    """

    def __init__(self) -> None:
        self._encoded: dict[int, tuple[tuple[Any, ...], int, dict[str, Any], bytes]] = {}

    def encoded(self, row: tuple[Any, ...], seq: int) -> tuple[dict[str, Any], bytes] | None:
        """(wire event, its canonical bytes) drafted for exactly this row at this seq, else None."""
        hit = self._encoded.get(row[0])
        if hit is None or hit[0] != row or hit[1] != seq:
            return None
        return hit[2], hit[3]

    def keep(self, row: tuple[Any, ...], seq: int, wire: dict[str, Any], data: bytes) -> None:
        self._encoded[row[0]] = (row, seq, wire, data)


def draft(max_bytes: int, max_events: int) -> Draft:
    """Encode the events the next batch will be cut from, as _cut would (reads only; see Draft)."""
    ahead = Draft()
    for _fitting in _chosen(_unsigned(max_events), int(meta.get("next_seq", 1)), max_bytes, ahead):
        continue
    return ahead


def _chosen(
    events: list[tuple[Any, ...]], seq: int, max_bytes: int, draft: Draft | None
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any], bytes]]:
    """The events that fit one batch from `seq` on: (row, wire event, its canonical bytes), in order.

    Each event is encoded with encoding.canonical_message, the encoder the sealed batch uses:
    its length decides where the batch is cut (at least one event, however large), and the
    bytes go into the signed body as they are (_cut).
    """
    size = count = 0
    for row in events:
        hit = draft.encoded(row, seq + count) if draft is not None else None
        if hit is None:
            wire = wire_event(row, seq + count)
            data = encoding.canonical_message(wire)
            if draft is not None:
                draft.keep(row, seq + count, wire, data)
        else:
            wire, data = hit
        if count and size + len(data) > max_bytes:
            return
        yield row, wire, data
        count += 1
        size += len(data)


def _cut(
    key: Ed25519PrivateKey,
    max_bytes: int,
    max_events: int,
    cursor: int,
    in_flight: int,
    draft: Draft | None = None,
    sealed: Sealed | None = None,
) -> Batch | None:
    """Sign the next run of unsigned events into a batch chained on the last one (inside a transaction).

    The events are read as plain rows (no model instance per event), encoded once to decide
    where the batch is cut (_chosen, or taken from `draft`); those bytes are the body's events,
    spliced in as they are (encoding.canonical_list), so no event is encoded twice. The body is
    encoded once for the signature, the envelope and the hash.
    """
    events = _unsigned(max_events)
    if not events:
        return None
    seq = int(meta.get("next_seq", 1))
    chosen = list(_chosen(events, seq, max_bytes, draft))
    prev_hash = meta.get("last_hash", protocol.GENESIS_HASH)
    body = protocol.batch_body(
        meta.get("node_id"),
        [wire for _row, wire, _data in chosen],
        prev_hash,
        cursor,
        catalogue_version=int(meta.get("catalogue_version", 0)),
        app_version=APP_VERSION,
        pending=max(0, queued_count() - in_flight),
    )
    events_bytes = encoding.canonical_list([data for *_, data in chosen])
    envelope, body_hash = signing.sealed(key, {**body, "events": events_bytes}, told=sealed)
    batch = Batch.create(
        first_seq=body["first_seq"],
        last_seq=body["last_seq"],
        hash=body_hash,
        prev_hash=prev_hash,
        envelope=envelope,
        created_at=now(),
    )
    # One prepared UPDATE run for every event, instead of building a query per event.
    database.obj.cursor().executemany(
        f'UPDATE "{Event._meta.table_name}" SET "seq" = ?, "batch_id" = ? WHERE "id" = ?',
        [(wire["seq"], batch.id, row[0]) for row, wire, _data in chosen],
    )
    meta.put("next_seq", body["last_seq"] + 1)
    meta.put("last_hash", batch.hash)
    return batch


# The row id, then the columns of an event that travel (wire_event).
_WIRE_COLUMNS = ("id", "event_id", "type", "request_id", "at", "clerk", "data")


def _unsigned(limit: int) -> list[tuple[Any, ...]]:
    """The oldest unsigned, unquarantined events as plain rows, data as its stored JSON's UTF-8 bytes.

    Bytes, not text: decoding JSON from the bytes SQLite holds is about 3 times faster than from
    a str, which Python would first build from them and then encode again.
    """
    fields = [Event._meta.fields[name] for name in _WIRE_COLUMNS]
    columns = ", ".join(
        f'CAST("{f.column_name}" AS BLOB)' if isinstance(f, JSONField) else f'"{f.column_name}"' for f in fields
    )
    seq, quarantined = Event._meta.fields["seq"].column_name, Event._meta.fields["quarantined"].column_name
    # Column and table names come from the model's metadata; the limit is bound.
    sql = (
        f'SELECT {columns} FROM "{Event._meta.table_name}" '  # nosec B608
        f'WHERE "{seq}" IS NULL AND NOT "{quarantined}" ORDER BY "id" LIMIT ?'
    )
    return list(database.execute_sql(sql, (limit,)).fetchall())


def unbatch(batch: Batch) -> None:
    """Undo a batch the hub refused as too large (it stored nothing), so its events can be re-cut."""
    with database.atomic():
        Event.update(seq=None, batch=None).where(Event.batch == batch.id).execute()
        meta.put("next_seq", batch.first_seq)
        meta.put("last_hash", batch.prev_hash)
        batch.delete_instance()


def quarantine_oversized(batch: Batch, message: str) -> None:
    """A single event too large even alone: set it aside visibly so the queue keeps moving."""
    with database.atomic():
        ids = [e.id for e in Event.select(Event.id).where(Event.batch == batch.id)]
        unbatch(batch)
        Event.update(quarantined=True, result_message=message).where(Event.id.in_(ids)).execute()


def record_attempt(batch: Batch, error: str | None) -> None:
    """Count a send attempt and keep its last error for the clerk's sync panel."""
    Batch.update(attempts=Batch.attempts + 1, last_attempt_at=now(), last_error=error).where(
        Batch.id == batch.id
    ).execute()


REQUEUE_LOG = "requeue_log"
REQUEUE_LOG_KEEP = 200


class RequeueError(ValueError):
    """A quarantined event that cannot be put back, with a sentence for the clerk."""


def requeue(event_pk: int, clerk: str) -> Event:
    """Put a quarantined event back in the queue (the clerk or the county officer decided to try again).

    The decision is kept in the node's requeue log (who, when, which event, why it was set aside).
    """
    with database.atomic():
        ev = Event.get_or_none(Event.id == event_pk)
        if ev is None or not ev.quarantined:
            raise RequeueError("没有这条已隔离的记录（可能已放回待上传）")
        entry = {
            "at": protocol.iso(protocol.utcnow()),
            "clerk": clerk[:64],
            "event_id": ev.event_id,
            "type": ev.type,
            "request_id": ev.request_id,
            "was": ev.result_message or "",
        }
        Event.update(quarantined=False, result_message=None).where(Event.id == ev.id).execute()
        log = (meta.get(REQUEUE_LOG) or [])[-(REQUEUE_LOG_KEEP - 1) :]
        meta.put(REQUEUE_LOG, [*log, entry])
    return ev
