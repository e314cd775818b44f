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


# An event chosen for a batch: its row (as _unsigned reads it), its wire form and that form's canonical bytes.
Chosen = tuple[tuple[Any, ...], dict[str, Any], bytes]

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
    checked: Callable[[], object] | None = None,
) -> Batch | None:
    """The batch that follows `after` on the chain while `after`'s answer is still being applied.

    A pending one signed earlier goes as it was; otherwise unsigned events are signed now, naming
    `cursor` (where the node will stand once that answer is applied) and not counting `after`'s
    events as still queued. `draft`: the events already encoded while `after` travelled (Draft);
    `sealed`: as for next_batch; `checked`: called once a new batch is signed and before it is
    stored (the answer's checks, node/sync): when it raises, nothing of the cut is stored.
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
        return _cut(key, max_bytes, max_events, cursor, after.last_seq - after.first_seq + 1, draft, sealed, checked)


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
        # The cut as drafted (see `cut`): what was written when, the cut's arguments, the drafting
        # batch, the chosen events and the queue's count.
        self._cut: tuple[tuple[Any, ...], tuple[int, int, int], Batch, list[Chosen], int] | None = None
        # The drafted cut signed ahead (sign_ahead): its body but for the events and the clock, envelope, hash.
        self._signed: tuple[dict[str, Any], bytes, str] | None = None

    def keep_cut(self, args: tuple[int, int, int], drafting: Batch, chosen: list["Chosen"], queued: int) -> None:
        self._cut = (_writes_seen(), args, drafting, chosen, queued)

    def cut(self, seq: int, max_bytes: int, max_events: int) -> tuple[Batch, list["Chosen"], int] | None:
        """(drafting batch, chosen events, queued count) as drafted, when nothing was written since; else None.

        Nothing written on this connection since the draft and nothing committed by another one
        (SQLite's total_changes and data_version): the rows, the numbers and the count a cut would
        read again are those the draft read, so it takes them as they are.
        """
        if self._cut is None:
            return None
        seen, args, drafting, chosen, queued = self._cut
        if args != (seq, max_bytes, max_events) or seen != _writes_seen():
            return None
        return drafting, chosen, queued

    def signed(self, body: dict[str, Any]) -> tuple[bytes, str] | None:
        """(envelope, hash) signed ahead for a body that says what `body` says but for its clock, else None.

        Only for the cut as drafted (Draft.cut): its events are the very ones signed ahead.
        """
        if self._signed is None or self._signed[0] != _unclocked(body):
            return None
        return self._signed[1], self._signed[2]

    def encoded(self, row: tuple[Any, ...], seq: int) -> tuple[dict[str, Any], bytes] | None:
        """(wire event, its canonical bytes) drafted for exactly this row at this seq, else None."""
        hit = self._encoded.get(row[0])
        if hit is None or hit[0] != row or hit[1] != seq:
            return None
        return hit[2], hit[3]

    def keep(self, row: tuple[Any, ...], seq: int, wire: dict[str, Any], data: bytes) -> None:
        self._encoded[row[0]] = (row, seq, wire, data)


# A batch whose events are numbered ahead but not signed (draft): no send, ack or count reads it.
DRAFTING = "drafting"


def draft(max_bytes: int, max_events: int) -> Draft:
    """Encode the events the next batch will be cut from, as _cut would, and number them ahead (see Draft).

    The numbers (seq, batch) need only where the chain stands, not the answer the node waits
    for: written and committed here, in a batch in the DRAFTING state, they are off the way from
    that answer to the next upload (writing 1,000 numbers costs 5-20 ms). _cut takes them only
    when they are exactly the numbers it would give (_drafted_rows); otherwise, and after a crash or
    an answer that is not plain (drop_draft), the events go back to the queue as if never drafted.
    next_seq and last_hash move only when the batch is signed.
    """
    ahead = Draft()
    with database.atomic():
        drop_draft()
        seq = int(meta.get("next_seq", 1))
        chosen = list(_chosen(_unsigned(max_events), seq, max_bytes, ahead))
        if not chosen:
            return ahead
        drafting = Batch.create(
            first_seq=seq,
            last_seq=seq + len(chosen) - 1,
            hash="",
            prev_hash="",
            envelope=b"",
            state=DRAFTING,
            created_at=now(),
        )
        _number(drafting.id, chosen)
        # Inside the transaction: it holds the write lock, so no other connection committed
        # between what was read here and the count of their commits kept with it.
        ahead.keep_cut((seq, max_bytes, max_events), drafting, chosen, queued_count())
    return ahead


def sign_ahead(key: Ed25519PrivateKey, ahead: Draft, in_flight: int, cursor: int, sealed: Sealed | None = None) -> None:
    """Sign the drafted batch now, on the cursor the answer the node waits for is expected to leave.

    The cut (_cut) takes this envelope only when the drafted events stand unread (Draft.cut) and
    its body, cursor included, says what the one it would sign says, but for the clock (Draft.signed):
    then the batch leaves already signed and compressed (`sealed`, as for next_batch) when that
    answer comes. Any other cut signs afresh, as without this. Nothing is written here.
    """
    if ahead._cut is None:
        return
    _seen, (seq, _max_bytes, _max_events), _drafting, chosen, queued = ahead._cut
    if seq != int(meta.get("next_seq", 1)):
        return
    body = _batch_body(chosen, cursor, queued - in_flight)
    envelope, body_hash = signing.sealed(key, _with_events(body, chosen), told=sealed)
    ahead._signed = (_unclocked(body), envelope, body_hash)


def _unclocked(body: dict[str, Any]) -> dict[str, Any]:
    """A batch body but for its events and the moment it was signed: what a body signed ahead must match."""
    return {k: v for k, v in body.items() if k not in ("events", "node_clock")}


def _batch_body(chosen: list[Chosen], cursor: int, pending: int) -> dict[str, Any]:
    """The body of a batch of the chosen events naming `cursor`, chained on the last batch signed."""
    return protocol.batch_body(
        meta.get("node_id"),
        [wire for _row, wire, _data in chosen],
        meta.get("last_hash", protocol.GENESIS_HASH),
        cursor,
        catalogue_version=int(meta.get("catalogue_version", 0)),
        app_version=APP_VERSION,
        pending=max(0, pending),
    )


def _with_events(body: dict[str, Any], chosen: list[Chosen]) -> dict[str, Any]:
    """The body to sign: its events as they were encoded when chosen (encoding.canonical_list)."""
    return {**body, "events": encoding.canonical_list([data for *_, data in chosen])}


def _writes_seen() -> tuple[Any, ...]:
    """This connection, the rows it changed so far and SQLite's count of other connections' commits."""
    conn = database.connection()
    if not hasattr(conn, "total_changes"):
        return (object(),)  # not SQLite: never the same twice, so nothing drafted is taken unread
    return conn, conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0]


def drop_draft() -> None:
    """Put the events of a drafting batch back in the queue, unnumbered, and forget the batch (it never left)."""
    drafting = Batch.select(Batch.id).where(Batch.state == DRAFTING)
    with database.atomic():
        Event.update(seq=None, batch=None).where(Event.batch.in_(drafting)).execute()
        Batch.delete().where(Batch.state == DRAFTING).execute()


def _drafted_rows(seq: int, max_events: int) -> tuple[Batch | None, list[tuple[Any, ...]]]:
    """(the drafting batch, the rows a cut from `seq` reads) when the drafted numbers can stand, else (None, rows).

    The rows are what _unsigned would read had the draft not numbered its events: its events
    (none quarantined since), then unsigned ones after them. A draft that no longer starts at
    `seq`, lost an event, or has an unsigned event before its last (a requeued one) is dropped.
    """
    drafting = Batch.get_or_none(Batch.state == DRAFTING)
    if drafting is None:
        return None, _unsigned(max_events)
    if drafting.first_seq == seq:
        rows = _rows(f'"{Event._meta.fields["batch"].column_name}" = ?', (drafting.id,), max_events)
        if len(rows) == drafting.last_seq - drafting.first_seq + 1:
            # At least one row after them, to see whether an unsigned event now comes before them.
            after = _unsigned(max(1, max_events - len(rows)))
            if not after or after[0][0] > rows[-1][0]:
                return drafting, (rows + after)[:max_events]
    drop_draft()
    return None, _unsigned(max_events)


def _chosen(events: list[tuple[Any, ...]], seq: int, max_bytes: int, draft: Draft | None) -> Iterator[Chosen]:
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
    checked: Callable[[], object] | None = None,
) -> Batch | None:
    """Sign the next run of unsigned events into a batch chained on the last one (inside a transaction).

    The events are read as plain rows (no model instance per event), encoded once to decide
    where the batch is cut (_chosen, or taken from `draft`); those bytes are the body's events,
    spliced in as they are (encoding.canonical_list), so no event is encoded twice. The body is
    encoded once for the signature, the envelope and the hash. Events numbered ahead (draft) keep
    their numbers when they are exactly those this cut gives; when nothing at all was written
    since the draft (Draft.cut), they are not even read again, and a body signed ahead on the
    cursor this cut names (sign_ahead) is taken as it was signed.
    """
    seq = int(meta.get("next_seq", 1))
    kept = draft.cut(seq, max_bytes, max_events) if draft is not None else None
    drafting: Batch | None
    if kept is not None:
        drafting, chosen, queued = kept
    else:
        drafting, events = _drafted_rows(seq, max_events)
        if not events:
            return None
        chosen = list(_chosen(events, seq, max_bytes, draft))
        if drafting is not None and len(chosen) != drafting.last_seq - drafting.first_seq + 1:
            # Cut elsewhere than the draft was (a new capture after a short draft, a changed size):
            # the rows are still those the cut reads, only the numbers go.
            drop_draft()
            drafting = None
        queued = queued_count()
    body = _batch_body(chosen, cursor, queued - in_flight)
    prev_hash = body["prev_hash"]
    # Signed ahead while the batch before travelled (sign_ahead), and compressed then: taken as it is.
    ahead = draft.signed(body) if kept is not None and draft is not None else None
    if ahead is None:
        envelope, body_hash = signing.sealed(key, _with_events(body, chosen), told=sealed)
    else:
        envelope, body_hash = ahead
    if checked is not None:
        checked()
    if drafting is not None:
        # Its events carry these very numbers already (draft): the batch is only signed now.
        batch = drafting
        batch.hash, batch.prev_hash, batch.envelope, batch.created_at = body_hash, prev_hash, envelope, now()
        batch.state = "pending"
        batch.save()
    else:
        batch = Batch.create(
            first_seq=body["first_seq"],
            last_seq=body["last_seq"],
            hash=body_hash,
            prev_hash=prev_hash,
            envelope=envelope,
            created_at=now(),
        )
        _number(batch.id, chosen)
    meta.put("next_seq", body["last_seq"] + 1)
    meta.put("last_hash", batch.hash)
    return batch


def _number(batch_id: int, chosen: list[Chosen]) -> None:
    """Give the chosen events their seq and batch: one prepared UPDATE run, not a query built per event."""
    database.obj.cursor().executemany(
        f'UPDATE "{Event._meta.table_name}" SET "seq" = ?, "batch_id" = ? WHERE "id" = ?',
        [(wire["seq"], batch_id, row[0]) for row, wire, _data in chosen],
    )


# The row id, then the columns of an event that travel (wire_event).
_WIRE_COLUMNS = ("id", "event_id", "type", "request_id", "at", "clerk", "data")


def _unsigned(limit: int) -> list[tuple[Any, ...]]:
    """The oldest unsigned, unquarantined events as plain rows, data as its stored JSON's UTF-8 bytes.

    Bytes, not text: decoding JSON from the bytes SQLite holds is about 3 times faster than from
    a str, which Python would first build from them and then encode again.
    """
    return _rows(f'"{Event._meta.fields["seq"].column_name}" IS NULL', (), limit)


def _rows(where: str, params: tuple[Any, ...], limit: int) -> list[tuple[Any, ...]]:
    """Unquarantined events matching the SQL condition `where` (bound `params`), as _unsigned reads them."""
    fields = [Event._meta.fields[name] for name in _WIRE_COLUMNS]
    columns = ", ".join(
        f'CAST("{f.column_name}" AS BLOB)' if isinstance(f, JSONField) else f'"{f.column_name}"' for f in fields
    )
    quarantined = Event._meta.fields["quarantined"].column_name
    # Column and table names come from the model's metadata, `where` from this module; values are bound.
    sql = (
        f'SELECT {columns} FROM "{Event._meta.table_name}" '  # nosec B608
        f'WHERE {where} AND NOT "{quarantined}" ORDER BY "id" LIMIT ?'
    )
    return list(database.execute_sql(sql, (*params, limit)).fetchall())


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
