"""The sync endpoint's logic, shared by HTTP and USB bundles: verify, ingest, answer.

The hub answers only after the transaction holding the batch has committed, and it
re-validates every event: a bad event is recorded as refused and told to the
village, it never blocks the node's chain.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date
from typing import Any, NamedTuple, TypeVar, cast

import msgspec

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import downstream, encoding, intake, messages, protocol, states
from shared.bulk_rows import DatesPrinted, Encoder, TextBytes, aligned, default, insert_rows
from shared.catalogue import Catalogue
from shared.msgid import N_
from shared.receipt_codes import is_issued
from shared.receipt_codes import normalise as normalise_receipt
from shared.validation import duplicate_sentence, normalise_id_number, validate_capture

from . import audit, cases, deadlines, duplicates, freshness, keys, restores, routing
from .county import level as county_level
from .catalogue_store import current_sent
from .clock import china_date, now
from .db import JSONField, compiled, database, one_by, one_where_sent, pipelined, update_by
from .models import Assignment, Batch, Case, ForkAlert, HubEvent, Node, NodeEvent, Village
from .nodeauth import Authenticated, authenticate, describe

M = TypeVar("M")

# One downstream entry as `answer` reads it: (cseq, type, request_id, at, body).
Entry = tuple[int, str, str, Any, dict[str, Any]]


def handle_sync(raw: bytes, hub_key: Ed25519PrivateKey, *, fresh_hello: bool = True) -> tuple[int, bytes]:
    """Process one sync message (batch, poll or hello); returns (HTTP status, signed response bytes).

    `fresh_hello=False` only for USB bundles: sealed to the hub's box key, imported once by id, days old.
    """
    with no_cycle_collection():
        return _handle_sync(raw, hub_key, fresh_hello)


class _CollectorPause:
    """Python's cycle collector paused while any sync message is handled, resumed after the last one.

    A batch of 200 captures allocates tens of thousands of dicts, lists and strings, which refcounting
    frees; they only made the collector run every few hundred allocations, and a full collection
    walks every object the process holds (the app, the catalogue, the models): 12–15 µs of CPU per
    event ingested (docs/performance.md, "Hub ingest: CPU per event, the collector and the clock").
    A cycle made meanwhile is collected once the collector runs again. The collector is process-wide
    and a server thread may handle a message while another does, so the pauses are counted: the
    collector resumes when the last message ends, and only if it was running when the first began.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._resume:
                    gc.enable()


no_cycle_collection = _CollectorPause()


def _handle_sync(raw: bytes, hub_key: Ed25519PrivateKey, fresh_hello: bool) -> tuple[int, bytes]:
    auth: Authenticated[messages.Batch | messages.Poll | messages.Hello] | None = None
    try:
        auth = authenticate(raw, messages.decode_sync)
        node, body, request_hash, version = auth.node, auth.body, auth.request_hash, auth.version
        if isinstance(auth.message, messages.Batch):
            protocol.check_batch_shape(auth.message)
            done = ingest_batch(node, body, request_hash)
            out = answer(
                body,
                request_hash,
                version,
                ack=done.ack,
                written=done.written,
                node=done.node,
                catalogue=done.catalogue,
            )
        else:
            if isinstance(auth.message, messages.Hello) and fresh_hello:
                freshness.check_hello(node, body)
            record_contact(node, body)  # contact columns only: none that the answer reads
            out = answer(
                body, request_hash, version, ack=None, hello=isinstance(auth.message, messages.Hello), node=node
            )
        return 200, protocol.seal(hub_key, out)
    except protocol.ProtocolError as exc:
        if auth is not None:
            node_id, request_hash, version = auth.node.node_id, auth.request_hash, auth.version
        else:
            node_id, request_hash, version = describe(raw)
        # Fresh from the database: a refused batch's transaction left the node row as it was.
        known = Node.get_or_none(Node.node_id == node_id) if node_id else None
        out = protocol.response_body(
            node_id,
            request_hash,
            ack=None,
            last_seq=known.last_seq if known else 0,
            last_hash=known.last_hash if known else protocol.GENESIS_HASH,
            updates=[],
            cursor=0,
            more=False,
            error_body=exc.to_body(),
        )
        return exc.status, protocol.seal(hub_key, keys.decorate(out, version))


# The stored clock offset is an integer column; a clock decades off is recorded at this bound.
CLOCK_OFFSET_LIMIT_S = 10 * 366 * 86400


def record_contact(node: Node, body: dict[str, Any], also: dict[Any, Any] | None = None) -> None:
    """Remember when the node last spoke, its clock offset, queue and version (and `also`: more columns).

    One UPDATE of the node row, compiled once per set of columns.
    """
    fields: dict[Any, Any] = {
        Node.last_sync_at: now(),
        Node.app_version: str(body.get("app_version", ""))[:32],
    }
    if isinstance(body.get("v"), int):
        fields[Node.protocol_version] = body["v"]
    if isinstance(body.get("pending"), int):
        fields[Node.pending_reported] = body["pending"]
    if isinstance(body.get("cursor"), int):
        fields[Node.reported_cursor] = body["cursor"]
    if isinstance(body.get("catalogue_version"), int):
        fields[Node.catalogue_version] = body["catalogue_version"]
    try:
        node_clock = protocol.parse_iso(body["node_clock"]).astimezone(UTC).replace(tzinfo=None)
        offset = int((node_clock - now()).total_seconds())
        # Clamped, so the fleet page still flags the clock (far beyond its skew threshold).
        fields[Node.clock_offset_s] = max(-CLOCK_OFFSET_LIMIT_S, min(CLOCK_OFFSET_LIMIT_S, offset))
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError):
        pass
    if also:
        fields.update(also)
    update_by(Node.node_id, node.node_id, fields)


class Ingested(NamedTuple):
    """What ingest_batch hands to `answer`: the ack, the entries it wrote, and what it read under the lock."""

    ack: dict[str, Any]
    written: list[Entry]
    node: Node  # the node row as the batch's transaction committed it
    catalogue: Catalogue | None  # the catalogue in force under the lock (None: not read, a re-send)


def ingest_batch(node: Node, body: dict[str, Any], batch_hash: str) -> Ingested:
    """Ingest a batch exactly once; return its ack, the downstream entries it wrote (see `answer`),
    and the node row and catalogue it read under the lock, so the answer does not read them again.

    A re-send gets the stored ack and no entries. The batch's pure work (cleaning, validation,
    encoding: `prepare_batch`) is done before the transaction when the node's standing says the batch
    is new, so other villages' batches commit meanwhile; inside, it is used only if the catalogue and
    the village's prefix it was done with are still those in force, else done again there.
    """
    fork: protocol.ProtocolError | None = None
    early = prepare_ahead(node, body) if body["first_seq"] > node.last_seq else None
    # `tail` is left after the transaction: the pipeline entered in it below carries the COMMIT too.
    with contextlib.ExitStack() as tail, database.atomic():
        node, stored, catalogue = _standing_under_lock(node, body["first_seq"])
        if stored is not None and stored.hash == batch_hash:
            record_contact(node, body)
            return Ingested(stored.ack, [], node, None)
        if stored is not None or body["first_seq"] <= node.last_seq:
            fork = protocol.error("fork", resume_from=node.last_seq + 1, last_hash=node.last_hash)
        else:
            protocol.check_chain(node.last_seq, node.last_hash, body)
            prefix = node.village.prefix
            if early is not None and early.catalogue is catalogue and early.prefix == prefix:
                prepared = early.events
            else:
                prepared = prepare_batch(body["events"], prefix, catalogue)
            writer = BatchWriter(node, body["events"], prepared)
            results = [apply_event(node, ev, catalogue, writer, p) for ev, p in zip(body["events"], prepared)]
            writer.flush(node_row=False)  # out_seq goes with the node row's one UPDATE below
            ack = {
                "first_seq": body["first_seq"],
                "last_seq": body["last_seq"],
                "batch_hash": batch_hash,
                "results": [r for r in results if r["status"] != "ok"],
                "accepted": sum(1 for r in results if r["status"] == "ok"),
            }
            # The batch row, the node row, the audit entry and the COMMIT without a round trip each on
            # PostgreSQL (the audit chain's head is read in turn; the lost-tail setting, sent first,
            # comes back with it); an error, the COMMIT's too, is raised when `tail` ends, before any
            # answer is sent.
            tail.enter_context(pipelined())
            lost_tail = restores.lost_tail_sent(node)
            _insert_rows(
                Batch,
                [
                    dict(
                        node=node.node_id,
                        first_seq=body["first_seq"],
                        last_seq=body["last_seq"],
                        hash=batch_hash,
                        prev_hash=body["prev_hash"],
                        node_clock=str(body.get("node_clock", ""))[:40],
                        received_at=now(),
                        ack=ack,
                    )
                ],
            )
            record_contact(
                node, body, {Node.last_seq: body["last_seq"], Node.last_hash: batch_hash, Node.out_seq: node.out_seq}
            )
            node.last_seq, node.last_hash = body["last_seq"], batch_hash  # as the row now holds them
            audit.record(
                node.node_id,
                "sync.batch",
                node.village.name,
                {
                    "first_seq": body["first_seq"],
                    "last_seq": body["last_seq"],
                    "batch_hash": batch_hash,
                    "accepted": ack["accepted"],
                    "refused": len(ack["results"]),
                },
            )
            restores.note_ingested(node, body, ack, lost_tail)
            return Ingested(ack, writer.written, node, catalogue)
    # Recorded in its own transaction: the refused batch itself leaves nothing behind.
    with database.atomic():
        ForkAlert.create(
            node=node,
            first_seq=body["first_seq"],
            last_seq=body["last_seq"],
            stored_hash=stored.hash if stored else None,
            offered_hash=batch_hash,
            at=now(),
        )
        audit.record(
            node.node_id,
            "sync.fork",
            node.village.name,
            {
                "first_seq": body["first_seq"],
                "last_seq": body["last_seq"],
                "offered_hash": batch_hash,
            },
        )
    raise fork


def _standing_under_lock(node: Node, first_seq: int) -> tuple[Node, Batch | None, Catalogue]:
    """The node row locked for the batch's transaction (cases.lock_node), with its village; the batch
    stored at `first_seq`, if any; and the catalogue in force, all read after the lock.

    On PostgreSQL the four statements go with the transaction's BEGIN in one round trip instead of
    four (their answers are read once the pipeline's end has waited for all of them): the village
    and the batch are looked up by values known before the lock (a node's village never changes;
    checked below all the same).
    """
    with pipelined():
        locked = one_where_sent((Node.node_id, node.node_id), for_update=True)
        village = one_where_sent((Village.id, node.village_id))
        stored = one_where_sent((Batch.node, node.node_id), (Batch.first_seq, first_seq))
        in_force = current_sent()
    row: Node | None = locked()
    if row is None:
        raise Node.DoesNotExist(node.node_id)
    its_village: Village | None = village()
    batch: Batch | None = stored()
    catalogue = in_force()
    if its_village is None or its_village.id != row.village_id:
        its_village = one_by(Village.id, row.village_id)
    row.village = its_village  # read here, not by peewee's compiler (prefix, name)
    return row, batch, catalogue


class PreparedBatch:
    """A batch's events prepared before its transaction, and what that preparation depended on."""

    def __init__(self, catalogue: Catalogue, prefix: str, events: list["Prepared"]):
        self.catalogue = catalogue
        self.prefix = prefix
        self.events = events


def prepare_ahead(node: Node, body: dict[str, Any]) -> PreparedBatch:
    """prepare_batch outside any transaction, with the catalogue and village prefix read now.

    Two plain reads and no lock (one round trip on PostgreSQL): ingest_batch checks both again
    under the node lock.
    """
    with pipelined():
        village = one_where_sent((Village.id, node.village_id))
        in_force = current_sent()
    catalogue, prefix = in_force(), village().prefix
    return PreparedBatch(catalogue, prefix, prepare_batch(body["events"], prefix, catalogue))


def prepare_batch(events: list[dict[str, Any]], prefix: str, catalogue: Catalogue) -> list["Prepared"]:
    """Each event's pure work (see Prepared), in order, all judged on the day the batch is prepared."""
    today, issuer = date.today(), normalise_receipt(prefix)
    return [Prepared(ev, issuer, catalogue, today) for ev in events]


class Prepared:
    """One event's work that depends only on the event, its village's receipt-code prefix and the catalogue.

    Nothing here reads the database or the clock of the transaction: the stored JSON of the event
    (and of a capture's data), the lookup keys of the duplicate checks, and for a capture either the
    refusal its content earns (cleaning, validation, receipt code) or the new case's columns that
    follow from its content. apply_event uses it in the same order the checks always ran.
    """

    __slots__ = ("raw", "data_str", "text", "lookup_code", "person", "refusal", "columns", "item", "same_data")

    def __init__(self, ev: dict[str, Any], issuer: str, catalogue: Catalogue, today: date | None = None):
        """`issuer`: the village's receipt-code prefix, normalised (shared.receipt_codes.normalise)."""
        self.lookup_code: str | None = None
        self.person: tuple[str, str] | None = None
        self.refusal: Refusal | None = None
        self.columns: dict[str, Any] = {}
        self.item: dict[str, Any] = {}
        self.same_data = False
        self.raw: msgspec.Raw | None = None
        self.data_str: TextBytes | None = None
        if ev.get("type") != "request.captured":
            self.text = TextBytes(_json_bytes(ev))
            return
        data = ev["data"]
        # A capture's data is encoded once: the case's `captured` and the node event's body share it.
        encoded = _json_bytes(data)
        self.raw = msgspec.Raw(encoded)
        self.data_str = TextBytes(encoded)
        self.text = TextBytes(_json_bytes({**ev, "data": self.raw}))
        # The keys BatchWriter looks up for the whole batch (as the node sent them, before cleaning).
        code = self.lookup_code = normalise_receipt(str(data.get("receipt_code", "")))
        if isinstance(data, dict) and isinstance(data.get("applicant"), dict):
            self.person = (
                normalise_id_number(str(data["applicant"].get("id_number", ""))),
                str(data.get("item_code", "")),
            )
        try:
            self._capture(ev, code, len(encoded), issuer, catalogue, today)
        except Refusal as ref:
            self.refusal = ref

    def _capture(
        self, ev: dict[str, Any], code: str, size: int, issuer: str, catalogue: Catalogue, today: date | None
    ) -> None:
        # Cleaned as the node and the counter clean it (ID number and phone in their stored forms).
        # `code`: normalised in __init__, and cleaning leaves the receipt code as the node sent it.
        data = intake.cleaned_capture(ev["data"]) if isinstance(ev["data"], dict) else ev["data"]
        self.same_data = data is ev["data"]
        # Data the cleaning left as it was is what was encoded: its size is known.
        errors = validate_capture(catalogue, data, today, encoded_size=size if self.same_data else None)
        if errors:
            raise Refusal(errors[0].code, "；".join(e.message for e in errors))
        if not is_issued(code, issuer):
            raise Refusal("bad_receipt_code", N_("回执码无效"))
        item = catalogue.item(data["item_code"])
        assert item is not None
        self.item = item
        applicant = data["applicant"]
        materials = data.get("materials", {})
        # In NewCase's column order; node, village, assignee and the times are filled in under the lock.
        # A literal: dict() with keywords builds them as a dict first (~1 µs more per capture).
        self.columns = {
            "request_id": ev["request_id"],
            "receipt_code": code,
            "node": None,
            "village": None,
            "item_code": item["code"],
            "window": routing.window_for(catalogue, item["code"]),
            "mode": item["mode"],
            "state": "received",
            "assignee": None,
            "clerk": str(ev.get("clerk", ""))[:64],
            "applicant_name": applicant["name"],
            "id_number": applicant["id_number"],
            "phone": applicant["phone"],
            # the cleaned form when cleaning changed the node's bytes (as the counter stores); else the node's
            "captured": None if self.same_data else TextBytes(_json_bytes(data)),
            "materials_brought": list(materials.get("brought", [])),
            "materials_missing": list(materials.get("missing", [])),
        }


def apply_event(
    node: Node,
    ev: dict[str, Any],
    catalogue: Catalogue,
    writer: "BatchWriter | None" = None,
    prepared: Prepared | None = None,
) -> dict[str, Any]:
    """Validate and apply one node event; a refusal is recorded and flows back, never raised.

    `prepared`: the event's pure work done ahead (prepare_batch); without it, done here.
    """
    if prepared is None:
        issuer = normalise_receipt(node.village.prefix) if ev.get("type") == "request.captured" else ""
        prepared = Prepared(ev, issuer, catalogue)
    writer = writer or BatchWriter(node, [ev], [prepared])
    handler = HANDLERS.get(str(ev.get("type")))
    try:
        if handler is None:
            raise Refusal("unknown_event", N_("未知的事件类型"))
        if not county_level.accepts(str(ev["type"])):
            raise Refusal("wrong_level", county_level.WRONG_LEVEL)
        if ev["id"] in writer.event_ids:
            raise Refusal("duplicate_event", N_("该事件已在中心登记"))
        if handler is _captured:
            _captured(node, ev, catalogue, writer, prepared)
        else:
            # Other handlers read and write cases one by one: give them the batch's rows so far.
            writer.flush()
            handler(node, ev, catalogue)
        result = {"seq": ev["seq"], "status": "ok"}
        writer.event_ids.add(ev["id"])
    except Refusal as ref:
        result = {"seq": ev["seq"], "status": "refused", "code": ref.code, "message": ref.message}
        writer.hub_event(
            ev["request_id"],
            "event.refused",
            {
                "seq": ev["seq"],
                "event_type": ev.get("type"),
                "code": ref.code,
                "message": ref.message,
                "state": "invalid" if ev.get("type") == "request.captured" else None,
            },
            "system",
        )
    writer.node_events.append(  # in NODE_EVENT_COLUMNS' order
        (
            node.node_id,
            ev["seq"],
            ev["id"] if result["status"] == "ok" else refused_key(node.node_id, ev["seq"]),
            str(ev.get("type"))[:40],
            ev["request_id"],
            writer.event_text(ev, prepared),
            result["status"],
            result.get("code"),
            result.get("message"),
        )
    )
    if writer.single:
        writer.flush()
    return result


def refused_key(node_id: str, seq: int) -> str:
    """The stored key of a refused event: unique per (node, seq), and never an event id (ids have no "~")."""
    return "~" + encoding.digest(f"{node_id}:{seq}".encode())[: messages.ID_MAX - 1]


class BatchWriter:
    """The rows one batch adds, written with a few multi-row INSERTs instead of several queries per event.

    The duplicate checks look up the whole batch at once; rows are flushed before any handler that
    reads cases one by one, so every handler still sees the effect of the events before it.
    """

    CHUNK = 200  # rows per INSERT, well inside SQLite's limit on bound parameters

    def __init__(self, node: Node, events: list[dict[str, Any]], prepared: list[Prepared]):
        self.node = node
        self.single = len(events) == 1
        ids = [ev["id"] for ev in events if isinstance(ev.get("id"), str)]
        request_ids = [ev["request_id"] for ev in events]
        codes = [p.lookup_code for p in prepared if p.lookup_code is not None]
        # The four look-ups of what the hub already holds (one statement on PostgreSQL), the calendar's
        # settings and the staff new cases are routed to: on PostgreSQL one round trip for all.
        people = (p.person for p in prepared if p.person is not None)
        with pipelined():
            held = duplicates.known_sent(ids, request_ids, codes, people)
            calendar = deadlines.calendar_sent()
            staff = routing.active_staff_sent()
        known = held()
        self.event_ids: set[str] = known.event_ids
        self.request_ids: set[str] = known.request_ids
        self.receipt_codes: set[str] = known.receipt_codes
        self.cases: list[dict[str, Any]] = []
        # Rows as tuples in their columns' order (HUB_EVENT_COLUMNS, NODE_EVENT_COLUMNS): no dict per row.
        self.node_events: list[tuple[Any, ...]] = []
        self.hub_events: list[tuple[Any, ...]] = []
        # Every entry queued by hub_event, kept after flush: the batch's answer hands them over.
        self.written: list[Entry] = []
        # One calendar and one answer per (start day, limit) for the whole batch, as if it were one moment.
        self.calendar = MemoCalendar(calendar())
        self._out_seq = node.out_seq
        self.assignments: list[dict[str, Any]] = []
        self.router = routing.Router(sink=self.assignments, staff=staff())
        # Audit entries of the batch's events (duplicate flags), chained at flush under one lock.
        self.audits: list[tuple[str, str, str, dict[str, Any] | None]] = []
        # 两头受理: the open cases of the people this batch captures for (one query), kept up to date below.
        self.open_requests = known.open_requests
        # A new case's data by event id: a later event of the batch with that id is stored with it.
        self._data_json: dict[str, msgspec.Raw] = {}

    def data_text(self, ev: dict[str, Any], prepared: Prepared) -> TextBytes:
        """The event's data as stored JSON text, encoded once (ahead) for the case and the node event."""
        # A capture's: its data was encoded ahead.
        assert prepared.raw is not None
        assert prepared.data_str is not None
        raw = self._data_json.setdefault(ev["id"], prepared.raw)
        return prepared.data_str if raw is prepared.raw else TextBytes(bytes(raw))

    def event_text(self, ev: dict[str, Any], prepared: Prepared) -> TextBytes:
        """The node event as stored JSON text: the one prepared, unless a case of the batch already holds its id."""
        raw = self._data_json.get(ev["id"]) if isinstance(ev.get("id"), str) else None
        if raw is None or raw is prepared.raw:
            return prepared.text
        return TextBytes(_json_bytes({**ev, "data": raw}))

    def assignee(self, window: str, request_id: str) -> str | None:
        """routing's pick for a new case; the router counts this batch's cases as it goes."""
        return self.router.assignee_for(window, request_id)

    def hub_event(self, request_id: str, type_: str, body: dict[str, Any], actor: str, at: Any = None) -> None:
        """Queue an entry of the village's downstream log, numbered as cases.append_hub_event does."""
        self.node.out_seq += 1
        at = at or now()
        self.hub_events.append((self.node.node_id, self.node.out_seq, request_id, type_, body, actor, at))
        self.written.append((self.node.out_seq, type_, request_id, at, body))

    def flush(self, node_row: bool = True) -> None:
        """Write the queued rows (caller holds the batch's transaction and the node lock).

        `node_row=False`: the caller writes the node's out_seq itself.
        """
        # A new case's status entry is stamped with its received_at: on SQLite those times are printed once.
        printed = DatesPrinted()
        for model, rows in ((Case, self.cases), (Assignment, self.assignments)):
            if rows:
                _insert_rows(model, rows, printed)
            rows.clear()
        for model, names, values in (
            (HubEvent, HUB_EVENT_COLUMNS, self.hub_events),
            (NodeEvent, NODE_EVENT_COLUMNS, self.node_events),
        ):
            if values:
                _insert_values(model, names, values, printed)
            values.clear()
        if self.audits:
            audit.record_many(self.audits)
            self.audits.clear()
        if node_row and self.node.out_seq != self._out_seq:
            update_by(Node.node_id, self.node.node_id, {Node.out_seq: self.node.out_seq})
            self._out_seq = self.node.out_seq


def _insert_rows(model: Any, rows: list[dict[str, Any]], printed: DatesPrinted | None = None) -> None:
    """INSERT rows of one model as one prepared statement run many times.

    The same values peewee would bind (each field's db_value), without building a query per row.
    Rows may set different fields (a case waiting for materials has materials_asked_on, a complete
    one not): shared/bulk_rows.aligned gives a row without a field that field's default.
    """
    _insert_values(model, *aligned(model, rows), printed)


def _insert_values(
    model: Any,
    names: tuple[str, ...] | list[str],
    values: list[tuple[Any, ...]],
    printed: DatesPrinted | None = None,
) -> None:
    """INSERT rows given as value tuples in the order of `names` (shared.bulk_rows.insert_rows)."""
    cursor = database.obj.cursor()
    insert_rows(cursor, model, names, values, mark=database.obj.param, encoder_for=_encoder_for, printed=printed)


# The columns of the rows BatchWriter queues as tuples. Neither model has a field with a default, so
# these are the columns aligned() would give the same rows as dicts, and the same values are bound.
HUB_EVENT_COLUMNS = ("node", "cseq", "request_id", "type", "body", "actor", "at")
NODE_EVENT_COLUMNS = ("node", "seq", "event_id", "type", "request_id", "body", "result", "reason_code", "reason")


_encoder = msgspec.json.Encoder(order="sorted", enc_hook=str)  # a refusal (shared.msgid.Said) as text


def _json_bytes(value: Any) -> bytes:
    return _encoder.encode(value)


def _json_value(value: Any) -> TextBytes | None:
    if value is None or value.__class__ is TextBytes:  # already encoded (Prepared, BatchWriter): written as it is
        return value
    if value.__class__ is list and not value:  # a case's materials_missing, most often: no encode
        return _EMPTY_LIST
    return TextBytes(_encoder.encode(value))


_EMPTY_LIST = TextBytes(_encoder.encode([]))


_JSON_COLUMN = Encoder(_json_value, keeps=frozenset({TextBytes, type(None)}))


def _encoder_for(field: Any) -> Encoder | None:
    """JSON columns: msgspec's encoder (sorted keys, like JSONField), or text already encoded once."""
    return _JSON_COLUMN if isinstance(field, JSONField) else None


class MemoCalendar:
    """A working-day calendar that answers each (start, days) once: a batch's cases share a few."""

    def __init__(self, calendar: Any):
        self._calendar = calendar
        self._deadlines: dict[tuple[Any, int], Any] = {}

    def add_workdays(self, start: Any, n: int) -> Any:
        key = (start, n)
        due = self._deadlines.get(key)
        if due is None:
            due = self._deadlines[key] = self._calendar.add_workdays(start, n)
        return due

    def __getattr__(self, name: str) -> Any:
        return getattr(self._calendar, name)


class Refusal(Exception):
    """An event the hub will not apply, with its reason for the clerk."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _captured(node: Node, ev: dict[str, Any], catalogue: Catalogue, writer: BatchWriter, prepared: Prepared) -> None:
    # The checks on the event's content were made ahead (Prepared); their refusal comes in its turn.
    if prepared.refusal is not None:
        raise prepared.refusal
    code = prepared.columns["receipt_code"]
    if ev["request_id"] in writer.request_ids or code in writer.receipt_codes:
        raise Refusal("duplicate_request", N_("该申请已在中心登记"))
    item = prepared.item
    received = now()
    case = NewCase(prepared.columns)
    case.node = node.node_id
    case.village = node.village_id
    case.assignee = writer.assignee(item["window"], ev["request_id"])
    if prepared.same_data:
        case.captured = writer.data_text(ev, prepared)
    case.received_at = case.updated_at = received
    case.received_on = china_date(received)
    # Kept, not refused: the villager holds a printed receipt. Flagged to the window and the clerk.
    case.duplicate_of = writer.open_requests.get((case.id_number, case.item_code))
    writer.open_requests.setdefault((case.id_number, case.item_code), code)
    # open_clock and status_body read and set a case's attributes; a plain object has them all.
    cases.open_clock(cast(Case, case), catalogue, writer.calendar)
    writer.cases.append(vars(case))
    writer.request_ids.add(ev["request_id"])
    writer.receipt_codes.add(code)
    note = None
    if case.duplicate_of:
        note = duplicate_sentence(case.duplicate_of, item["name"]) + "（中心已接收，由窗口核实）"
        writer.audits.append(
            (node.node_id, "case.duplicate_flagged", code, {"earlier": case.duplicate_of, "item": item["code"]})
        )
    writer.hub_event(
        ev["request_id"],
        "case.status",
        cases.status_body(cast(Case, case), catalogue, action="received", note=note),
        "system",
        received,
    )


class NewCase:
    """A new case's columns as plain attributes, defaults included: no model instance per captured event."""

    id_number: str
    item_code: str
    duplicate_of: str | None
    node: str
    village: int
    assignee: str | None
    captured: Any
    received_at: Any
    received_on: Any
    updated_at: Any

    def __init__(self, values: dict[str, Any]):
        attrs = self.__dict__
        # Every column, in one order: a batch's case rows all have the same keys (bulk_rows.aligned's quick way).
        attrs.update(CASE_TEMPLATE)
        for name, f in CASE_MADE:  # a fresh list each (not shared between cases), unless the event gives one
            if name not in values:
                attrs[name] = default(f)
        attrs.update(values)


CASE_DEFAULTS = [(name, f) for name, f in Case._meta.fields.items() if f.default is not None]
# The defaults that are values (a number, a text), copied as they are; and those a call makes (a list).
CASE_CONSTANTS = {name: f.default for name, f in CASE_DEFAULTS if not callable(f.default)}
CASE_MADE = [(name, f) for name, f in CASE_DEFAULTS if callable(f.default)]
# Each column's constant default, else None (what an INSERT leaving out a column without default stores).
CASE_TEMPLATE = {name: CASE_CONSTANTS.get(name) for name in Case._meta.fields}


def _event_data(ev: dict[str, Any], kind: type[M], code: str, message: str) -> M:
    """The event's data as declared in shared/messages.py; a refusal of this event alone if it does not fit."""
    try:
        data: M = messages.convert(ev["data"], kind)
    except messages.MessageError as exc:
        raise Refusal(code, message) from exc
    return data


def _case_of(node: Node, ev: dict[str, Any]) -> Case:
    case = Case.get_or_none(Case.request_id == ev["request_id"])
    if case is None or case.node_id != node.node_id:
        raise Refusal("unknown_request", N_("中心没有这件申请"))
    return case


def _supplemented(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    case = _case_of(node, ev)
    materials = _event_data(ev, messages.SupplementedData, "bad_materials", N_("补正材料清单格式错误或为空")).materials
    try:
        cases.supplement_arrived(node, case, list(materials), catalogue, str(ev.get("clerk") or "system"))
    except cases.CaseError as exc:
        raise Refusal(exc.code, exc.message) from exc


def _feedback(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    from shared import ratings

    from .ratings import RatingRefused, record_rating

    case = _case_of(node, ev)
    feedback = _event_data(ev, messages.FeedbackData, "bad_feedback", ratings.CHOOSE_MESSAGE + "，" + ratings.TOO_LONG)
    try:
        # Older nodes send no channel: the village point, said in person.
        record_rating(
            case, feedback.satisfaction, feedback.comment or "", feedback.channel or "village", str(ev.get("clerk", ""))
        )
    except RatingRefused as ref:
        raise Refusal(ref.code, ref.message) from ref


def _withdrawn(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    case = _case_of(node, ev)
    _event_data(ev, messages.WithdrawnData, "bad_reason", N_("撤回原因格式错误或超过200字"))
    if not states.can_transition(case.state, "withdrawn", case.mode):
        raise Refusal("cannot_withdraw", N_("当前状态（%(state)s）不能撤回", state=states.LABELS[case.state]))
    case.state = "withdrawn"
    case.closed_at = now()
    case.updated_at = now()
    case.save()
    cases.announce(node, case, ev.get("clerk") or "system", catalogue, action="withdrawn")


def _message(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    from .mailbox import MailRefused, check_message, ingest_message

    try:
        # The mailbox's rules first, for a message the clerk can act on; then the declared shape.
        cleaned = check_message(node, ev["data"])
        _event_data(ev, messages.MessageLeftData, "bad_message", N_("留言含有未声明的内容，未被接收"))
        ingest_message(node, ev, cleaned)
    except MailRefused as ref:
        raise Refusal(ref.code, ref.message) from ref


def _attachment(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    from .attachments import AttachmentRefusal, record_expected

    case = _case_of(node, ev)
    try:
        record_expected(case, ev["data"])
    except AttachmentRefusal as ref:
        raise Refusal(ref.code, ref.message) from ref


def _corrected(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    from .corrections import from_node

    case = _case_of(node, ev)
    data = _event_data(
        ev, messages.CorrectedData, "bad_correction", N_("更正内容格式错误（须写明更正项目、内容和原因）")
    )
    try:
        from_node(
            node, case, {"field": data.field, "value": data.value, "reason": data.reason}, str(ev.get("clerk") or "")
        )
    except cases.CaseError as exc:
        raise Refusal(exc.code, exc.message) from exc


def _passed_up(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    from .county.intake import PassedUpRefusal, receive

    try:
        receive(node, ev, catalogue)
    except PassedUpRefusal as ref:
        raise Refusal(ref.code, ref.message) from ref


def _township_report(node: Node, ev: dict[str, Any], catalogue: Catalogue) -> None:
    from .county import figures_up

    receive = figures_up.receive_figures if ev["type"] == figures_up.FIGURES else figures_up.receive_alert
    try:
        receive(node, ev)
    except figures_up.ReportRefusal as ref:
        raise Refusal(ref.code, ref.message) from ref


HANDLERS = {
    "request.captured": _captured,
    "request.supplemented": _supplemented,
    "request.feedback": _feedback,
    "request.withdrawn": _withdrawn,
    "message.left": _message,
    "attachment.added": _attachment,
    "request.corrected": _corrected,
    "case.passed_up": _passed_up,
    "township.figures": _township_report,
    "township.alert": _township_report,
}


def downstream_entry(cseq: int, type_: str, request_id: str, at: Any, body: dict[str, Any]) -> dict[str, Any]:
    """One entry of the village's downstream log as it travels (and as at_cursor digests it)."""
    return {"cseq": cseq, "type": type_, "request_id": request_id, "at": protocol.iso(at), **body}


def _tail(written: list[Entry], out_seq: int) -> list[Entry]:
    """The entries of `written` that end the village's log with no gap: the log's last ones.

    An entry another path wrote in between (a supplement's status, cases.append_hub_event) is
    not in `written`; the entries before it are left to the database.
    """
    if not written or written[-1][0] != out_seq:
        return []
    start = len(written) - 1
    while start > 0 and written[start - 1][0] == written[start][0] - 1:
        start -= 1
    return written[start:]


def _entries_sent(node: Node, low: int, tail: list[Entry]) -> Callable[[], list[Entry]]:
    """The village's log entries with cseq >= low, at most MAX_UPDATES_PER_RESPONSE + 2, in order:
    the statement sent now, the entries read by calling the result (hub.db.pipelined: with others).

    `tail` holds the log's last entries (from memory); only those before it are read. The same
    values either way: a body is stored as JSON of str, int, bool, None, lists and str-keyed
    dicts, which decode to what was encoded (tests/hub/test_ingest_answer.py compares the answers).
    """
    limit = protocol.MAX_UPDATES_PER_RESPONSE + 2
    if tail and low >= tail[0][0]:
        return lambda: tail[low - tail[0][0] :][:limit]
    below = tail[0][0] if tail else 2**62

    def build() -> Any:
        return (
            HubEvent.select(HubEvent.cseq, HubEvent.type, HubEvent.request_id, HubEvent.at, HubEvent.body)
            .where((HubEvent.node == "") & (HubEvent.cseq >= 0) & (HubEvent.cseq < 0))
            .order_by(HubEvent.cseq)
            .limit(limit)
        )

    cursor = database.execute_sql(compiled(("answer.entries",), build), (node.node_id, low, below, limit))

    def entries() -> list[Entry]:
        # Plain tuples, not model instances: a busy village gets up to a thousand of these per answer.
        at, body = HubEvent.at.python_value, HubEvent.body.python_value
        rows: list[Entry] = [
            (cseq, type_, request_id, at(at_), body(body_)) for cseq, type_, request_id, at_, body_ in cursor
        ]
        return rows + tail[: limit - len(rows)]

    return entries


def answer(
    body: dict[str, Any],
    request_hash: str,
    version: int,
    *,
    node: Node,
    ack: dict[str, Any] | None,
    hello: bool = False,
    written: list[Entry] | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """The response body in protocol `version` (keys.decorate): ack, the node's standing, updates after
    its cursor, catalogue if newer.

    It carries the hub's epoch and the digest of the entry at the node's cursor, so a node can
    tell a log that lost its tail and was renumbered from the one it holds (shared/downstream.py).
    `written`: the entries the batch just wrote (committed), handed over from memory instead of
    read back and decoded; the entries before them still come from the database.
    `node`: the node row as it stands (for a batch, as its transaction committed it: ingest_batch).
    `catalogue`: the catalogue that transaction read under its lock, instead of reading it again; else read here.
    On PostgreSQL the answer's reads (the epoch, the entries, the catalogue, the key's rotations) go
    in one round trip.
    """
    cursor: int = body["cursor"] if isinstance(body.get("cursor"), int) else 0
    with pipelined():
        epoch_read = restores.current_epoch_sent()
        entries = _entries_sent(node, max(cursor, 1), _tail(written or [], node.out_seq))
        in_force = current_sent() if catalogue is None else None
        chain = keys.rotation_chain_sent() if version >= 2 else None
    # Every answer read before check_rewound, which may write (a new epoch).
    epoch, rows = epoch_read(), entries()
    if in_force is not None:
        catalogue = in_force()
    rotations = chain() if chain is not None else None
    if ack is None:
        # A batch may be re-sent long after it was signed, with the cursor of that time: only a
        # poll or hello tells where the node stands now.
        epoch = restores.check_rewound(node, cursor, epoch)
    at_cursor = ""
    if rows and rows[0][0] == cursor:
        at_cursor = downstream.entry_digest(downstream_entry(*rows[0]))
    rows = [r for r in rows if r[0] > cursor]
    more = len(rows) > protocol.MAX_UPDATES_PER_RESPONSE
    rows = rows[: protocol.MAX_UPDATES_PER_RESPONSE]
    updates = [downstream_entry(*row) for row in rows]
    assert catalogue is not None
    history = None
    if hello:
        acked = body.get("acked_seq") if isinstance(body.get("acked_seq"), int) else 0
        restores.note_hello(node, acked)
        hist = list(
            NodeEvent.select()
            .where((NodeEvent.node == node) & (NodeEvent.seq > acked))
            .order_by(NodeEvent.seq)
            .limit(protocol.MAX_UPDATES_PER_RESPONSE)
        )
        history = [h.body for h in hist]
        more = more or (hist and hist[-1].seq < node.last_seq) or False
    out = protocol.response_body(
        node.node_id,
        request_hash,
        ack=ack,
        last_seq=node.last_seq,
        last_hash=node.last_hash,
        updates=updates,
        # Never echo a cursor past the hub's end: a node must only ever hold numbers the hub gave it.
        cursor=rows[-1][0] if rows else min(cursor, node.out_seq),
        more=bool(more),
        catalogue=catalogue.to_dict() if body.get("catalogue_version", 0) < catalogue.version else None,
        history=history,
        out_seq=max(node.out_seq, rows[-1][0] if rows else 0),
    )
    out["epoch"] = epoch
    if cursor > 0:
        out["at_cursor"] = {"cseq": cursor, "digest": at_cursor}
    return keys.decorate(out, version, rotations)
