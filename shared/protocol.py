"""The sync protocol: message shapes, signed envelopes, the chain rule and error codes.

Every message is an envelope ``{"body": {...}, "sig": "<base64 Ed25519>"}``.  The
signing input is ``canonical(body)``; a batch's hash is ``digest(canonical(body))``
and the next batch of the same node names it as ``prev_hash``.  See docs/protocol.md.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import encoding, messages, signing

T = TypeVar("T")

# Version 2 adds the hub key rotation chain to responses. A hub answers each node in the
# version the node spoke, so nodes one version behind keep syncing during a rolling upgrade.
PROTOCOL_VERSION = 2
SUPPORTED_VERSIONS = frozenset({1, 2})
GENESIS_HASH = "0" * 64

# Sizes: the hub refuses a compressed body above MAX_BODY_BYTES (413) and an
# inflated body above MAX_INFLATED_BYTES; the node starts batches well below.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_INFLATED_BYTES = 8 * 1024 * 1024
DEFAULT_BATCH_BYTES = 1024 * 1024
DEFAULT_BATCH_EVENTS = 1000
MIN_BATCH_BYTES = 4 * 1024
MAX_UPDATES_PER_RESPONSE = 1000

NODE_EVENT_TYPES = messages.NODE_EVENT_TYPES


@dataclass(frozen=True)
class ProtocolError(Exception):
    """A refusal with a machine code, an HTTP status and a sentence for people."""

    code: str
    status: int
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_body(self) -> dict[str, Any]:
        """The error as it travels in a response body."""
        return {"code": self.code, "message": self.message, **self.extra}


# code -> (HTTP status, Chinese sentence for the clerk or the county officer)
ERRORS: dict[str, tuple[int, str]] = {
    "unsupported_version": (400, "协议版本不受支持，请升级代办点软件"),
    "bad_body": (400, "数据包格式错误（可能在传输中被截断），请重新同步"),
    "bad_content_type": (415, "数据包类型错误"),
    "too_large": (413, "数据包过大，将自动拆分后重发"),
    "unknown_node": (403, "本代办点未在乡镇中心登记，请重新注册"),
    "revoked": (403, "本代办点已被乡镇中心停用，请联系乡镇管理员"),
    "bad_signature": (403, "数据签名无效，数据可能被篡改"),
    "bad_batch": (400, "批次内容不连续或不完整"),
    "sequence_gap": (409, "批次序号与中心记录不符，需要先与中心核对进度"),
    "chain_broken": (409, "批次链与中心记录不符，需要先与中心核对进度"),
    "fork": (409, "同一序号出现了不同内容，已报告监督人员"),
    "bad_code": (403, "注册码无效、已使用或已过期"),
    "rate_limited": (429, "请求过于频繁，请稍后再试"),
    "stale_hello": (409, "同步请求已过期或是重放的旧请求，中心已拒绝；本机将按中心时间重新发起"),
}


def error(code: str, **extra: Any) -> ProtocolError:
    """Build the ProtocolError for a documented code."""
    status, message = ERRORS[code]
    return ProtocolError(code, status, message, extra)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def iso(ts: datetime) -> str:
    """A UTC timestamp as ISO 8601 text to the microsecond, with a Z.

    A naive time is UTC, the form both databases store: `astimezone` would read it as the server's
    local time, so a hub on a machine set to Beijing time stamped its updates eight hours early.
    """
    if ts.__class__ is datetime and ts.tzinfo is None and ts.year >= 1000:
        # Every stored time (naive UTC): the same text as below without replace() and strftime, a
        # quarter of the CPU; the hub stamps each update of its answers (strftime leaves a year
        # before 1000 unpadded, isoformat pads it: those go below).
        return ts.isoformat(timespec="microseconds") + "Z"
    return _as_utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def event_time(ts: datetime | None = None) -> str:
    """The `at` of a node event: ISO 8601 UTC to the second, with a Z (`messages.Timestamp`).

    `at` is recorded, never trusted for order (the seq is), and a clerk reads it to the minute:
    the six microsecond digits `iso` adds are ~20 random bits, ~2.5 of the ~100 compressed bytes
    a capture takes going up (docs/performance.md, "Fewer bytes, second pass").
    """
    return _as_utc(ts or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Inverse of iso()."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_id() -> str:
    """A random identifier for events and requests."""
    return uuid.uuid4().hex


# A request id a node makes: the village's receipt prefix, then a tail of fixed length, the day
# it was made (days since REQUEST_ID_EPOCH, UTC, 4 hex digits: until 2203) and 52 random bits
# (13 hex digits). The prefix before it is always id[:-REQUEST_ID_TAIL_HEX]. docs/performance.md,
# "Request ids in the order they are made", has the collision arithmetic.
REQUEST_ID_EPOCH = date(2024, 1, 1)
REQUEST_ID_DAY_HEX = 4
REQUEST_ID_RANDOM_HEX = 13
REQUEST_ID_TAIL_HEX = REQUEST_ID_DAY_HEX + REQUEST_ID_RANDOM_HEX
_LAST_DAY = 16**REQUEST_ID_DAY_HEX - 1


def request_id_day(at: datetime) -> str:
    """The day part of a request id made at `at` (naive = UTC), clamped to what 4 hex digits hold.

    A node PC whose clock is wrong (before the epoch, a battery gone flat) gets day 0000: its ids
    stay unique by their random part (and the node's own check, node/capture._unique_request_id),
    they only lose their place in the order.
    """
    days = (_as_utc(at).date() - REQUEST_ID_EPOCH).days
    return f"{min(max(days, 0), _LAST_DAY):0{REQUEST_ID_DAY_HEX}x}"


def new_request_id(prefix: str, at: datetime | None = None) -> str:
    """A new request's id at a node: the node's receipt prefix, the day (`at`, default now), 52 random bits.

    The day first makes one village's ids arrive in the order they sort: the hub's indexes keyed by
    request id (a case's key, its node event's and hub entries') take a batch's 200 new ids on
    their last pages instead of on a page each, and ids of a day compress better than random
    digits. The prefix makes the id unique by construction between the villages of a hub (each
    has its own prefix); the random bits only have to keep one node's own ids of a day apart, and
    the length (2-3 + 17) never equals `new_id`'s 32, so it cannot meet an id the hub's counter
    made. The hub reads ids as opaque (`Ident`).
    """
    random_part = secrets.randbits(4 * REQUEST_ID_RANDOM_HEX)
    return f"{prefix}{request_id_day(at or utcnow())}{random_part:0{REQUEST_ID_RANDOM_HEX}x}"


def new_event_id(type_: str, request_id: str) -> str:
    """The id of a new node event: a request's capture carries the request's own id, others a fresh one.

    A request is captured once, so the pair stays unique; both ids travel in every event, and a
    second random id cost 17 of the ~124 bytes a typical capture takes on the wire compressed
    (docs/performance.md, "Where the bytes go"). The hub reads ids as opaque: no change there.
    """
    return request_id if type_ == "request.captured" else new_id()


# --- envelopes ---------------------------------------------------------------


def seal(key: Ed25519PrivateKey, body: dict[str, Any]) -> bytes:
    """Sign a body and return the envelope bytes as sent: canonical({"body": body, "sig": sig}).

    The body is encoded once and framed (signing.envelope), not encoded again inside the envelope.
    """
    return signing.envelope(key, encoding.canonical_message(body))


def parse_envelope(raw: bytes) -> tuple[dict[str, Any], str]:
    """Parse envelope bytes into (body, signature), checking neither version nor signature."""
    try:
        env = encoding.parse(raw)
    except encoding.EncodingError as exc:
        raise error("bad_body", detail=str(exc)) from exc
    if not isinstance(env, dict) or not isinstance(env.get("body"), dict) or not isinstance(env.get("sig"), str):
        raise error("bad_body", detail="envelope must be {body, sig}")
    return env["body"], env["sig"]


# Said to a node that speaks a newer protocol than this hub: the fix is on the hub's side.
HUB_TOO_OLD = (
    "乡镇中心的软件版本较旧，不认识本机的协议版本，请联系县里升级乡镇中心；本机数据已妥善保存，中心升级后自动补传"
)


def check_version(body: dict[str, Any]) -> None:
    """Refuse a message in a protocol version we do not speak, saying which side must upgrade."""
    v = body.get("v")
    if v in SUPPORTED_VERSIONS:
        return
    if isinstance(v, int) and not isinstance(v, bool) and v > max(SUPPORTED_VERSIONS):
        raise ProtocolError(
            "unsupported_version", 400, HUB_TOO_OLD, {"upgrade": "hub", "supported": sorted(SUPPORTED_VERSIONS)}
        )
    raise error("unsupported_version", upgrade="node", supported=sorted(SUPPORTED_VERSIONS))


def answer_version(body: dict[str, Any]) -> int:
    """The version to answer a message in: the sender's own when we speak it, else ours."""
    v = body.get("v")
    return v if v in SUPPORTED_VERSIONS and isinstance(v, int) else PROTOCOL_VERSION


def declared(body: dict[str, Any], decode: Callable[[dict[str, Any]], T]) -> T:
    """The body as its declared structure (shared/messages.py); bad_body naming the field if it does not fit."""
    try:
        return decode(body)
    except messages.MessageError as exc:
        # The detail may quote a hostile value: keep what travels back short.
        raise error("bad_body", field=exc.field[:200], detail=exc.detail[:200]) from exc


_ESCAPES_LOOKED_AT = 256


def refuse_nul(body: dict[str, Any], raw: bytes | None = None) -> None:
    """bad_body naming the field when a text of `body` holds U+0000.

    PostgreSQL's text cannot store it (SQLite's can): refused alike on both, before the database.
    `raw`: the bytes the body was parsed from. JSON writes U+0000 only as the escape \\u0000, so
    a body whose bytes hold no such escape is not walked. Escapes are looked at one by one (each
    backslash starts one: a search for the next is a memchr) up to _ESCAPES_LOOKED_AT, past which
    one search for the text decides (slower per byte, bounded).
    """
    if raw is not None:
        at = raw.find(b"\\")
        for _ in range(_ESCAPES_LOOKED_AT):
            if at == -1:
                return
            if raw.startswith(b"u0000", at + 1):
                break
            at = raw.find(b"\\", at + 2)  # past the escaped character (a backslash too)
        else:
            if b"\\u0000" not in raw:
                return
    field = _nul_field(body, "")
    if field is not None:
        raise error("bad_body", field=field[:200], detail="text holds U+0000")


def _nul_field(value: Any, path: str) -> str | None:
    """The path (as messages name fields) of the first text or key holding U+0000, else None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return name.replace("\x00", "\ufffd")
            found = _nul_field(item, name)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def open_envelope(raw: bytes) -> tuple[dict[str, Any], str]:
    """Parse envelope bytes into (body, signature) without verifying; ProtocolError if malformed.

    A body of a declared kind must fit its declaration, so a node reads an answer only once
    every field it may use has its declared type and bound.
    """
    body, sig = parse_envelope(raw)
    check_version(body)
    declared(body, messages.validate_body)
    return body, sig


def verify_body(pub_b64: str, body: dict[str, Any], sig: str) -> bool:
    """True when sig signs canonical(body) under the key."""
    return signing.verify(pub_b64, encoding.canonical_message(body), sig)


def framed_body(raw: bytes, sig: str) -> memoryview | None:
    """The body's bytes as received, when `raw` is the canonical envelope's frame around them; else None.

    `sig` is the signature parsed from `raw`. Only base64 text (no quote, no backslash) is looked
    for, so its literal in `raw` is the text itself and the frame's end is known exactly. A view of
    `raw`, not a copy: a batch's body is ~820 kB, and it is only verified and hashed.
    """
    if not (sig.isascii() and '"' not in sig and "\\" not in sig):
        return None
    end = signing.ENVELOPE_SIG + sig.encode("ascii") + signing.ENVELOPE_END
    if len(raw) <= len(signing.ENVELOPE_HEAD) + len(end) or not (
        raw.startswith(signing.ENVELOPE_HEAD) and raw.endswith(end)
    ):
        return None
    return memoryview(raw)[len(signing.ENVELOPE_HEAD) : len(raw) - len(end)]


def signed_bytes(
    pub_b64: str, framed: bytes | memoryview | None, body: dict[str, Any], sig: str
) -> bytes | memoryview | None:
    """The bytes `sig` signs under the key: the body's bytes as received, else canonical(body); None if neither.

    Why the received bytes are as safe as canonical(body) (docs/protocol.md, "Signed bytes as
    received"): a node signs only canonical bytes (seal, signing.sealed), so when `framed` verifies,
    the key signed `framed` = canonical(b) for the body b the node built, a single JSON object. Then
    `raw` = '{"body":' + canonical(b) + ',"sig":"<sig>"}' is the canonical envelope, whose parsed
    body is b: what was signed is what is processed, and digest(framed) = digest(canonical(body)),
    today's request hash. Whoever lacks the key cannot make `framed` verify, so bytes changed on the
    way (a proxy, a man in the middle) fall through to canonical(body) and are refused as before.
    An envelope that is not the canonical frame (spaces, other key order, escapes, extra keys) gets
    no `framed` and is checked exactly as before: canonical(body) must verify. Only an enrolled key
    signing non-canonical bytes itself is now taken at its word, hashed as it signed them.
    """
    if framed is not None and signing.verify(pub_b64, framed, sig):
        return framed
    data = encoding.canonical_message(body)
    return data if signing.verify(pub_b64, data, sig) else None


def body_hash(body: dict[str, Any]) -> str:
    """The hash that names a message: batches chain by it, responses quote it."""
    return encoding.digest(encoding.canonical_message(body))


# --- headers -----------------------------------------------------------------
# Key order does not matter: a body is signed and hashed as canonical bytes, its keys sorted.


def node_header(kind: str, node_id: str, clock: datetime | None = None) -> dict[str, Any]:
    """How every message a node signs opens: version, kind, the node's id and its clock (now by default)."""
    return {"v": PROTOCOL_VERSION, "kind": kind, "node_id": node_id, "node_clock": iso(clock or utcnow())}


def hub_header(kind: str, node_id: str, request_hash: str) -> dict[str, Any]:
    """How every answer the hub signs opens: version, kind, the node it is for, the request it answers, the hub's time."""
    return {
        "v": PROTOCOL_VERSION,
        "kind": kind,
        "node_id": node_id,
        "request_hash": request_hash,
        "hub_time": iso(utcnow()),
    }


# --- node messages -----------------------------------------------------------


def _sync_request(
    kind: str,
    node_id: str,
    cursor: int,
    catalogue_version: int,
    app_version: str,
    pending: int,
    clock: datetime | None,
) -> dict[str, Any]:
    """What every batch, poll and hello says of the node: its header, then where it stands."""
    body = node_header(kind, node_id, clock)
    body["cursor"] = cursor
    body["catalogue_version"] = catalogue_version
    body["app_version"] = app_version
    body["pending"] = pending
    return body


def batch_body(
    node_id: str,
    events: list[dict[str, Any]],
    prev_hash: str,
    cursor: int,
    *,
    catalogue_version: int,
    app_version: str,
    pending: int = 0,
    clock: datetime | None = None,
) -> dict[str, Any]:
    """The body of a batch: a contiguous run of the node's events, chained to the previous batch."""
    body = _sync_request("batch", node_id, cursor, catalogue_version, app_version, pending, clock)
    body["first_seq"] = events[0]["seq"]
    body["last_seq"] = events[-1]["seq"]
    body["prev_hash"] = prev_hash
    body["events"] = events
    return body


def poll_body(
    node_id: str,
    cursor: int,
    *,
    kind: str = "poll",
    acked_seq: int = 0,
    catalogue_version: int,
    app_version: str,
    pending: int = 0,
    clock: datetime | None = None,
) -> dict[str, Any]:
    """A signed request with no events: 'poll' fetches updates, 'hello' asks where to resume."""
    body = _sync_request(kind, node_id, cursor, catalogue_version, app_version, pending, clock)
    body["nonce"] = new_id()
    body["acked_seq"] = acked_seq
    return body


def check_batch_shape(body: dict[str, Any] | messages.Batch) -> messages.Batch:
    """Refuse a batch that does not fit its declaration or whose events are not exactly first_seq..last_seq.

    Types and bounds come from shared/messages.py (bad_body naming the field); the sequence
    rule is bad_batch.
    """
    batch = body if isinstance(body, messages.Batch) else declared(body, messages.decode_sync)
    if not isinstance(batch, messages.Batch):
        raise error("bad_body", field="kind", detail="expected a batch")
    if batch.last_seq - batch.first_seq + 1 != len(batch.events):
        raise error("bad_batch", detail="event count does not match the sequence range")
    for offset, ev in enumerate(batch.events):
        if ev.seq != batch.first_seq + offset:
            raise error("bad_batch", detail=f"event {offset} is out of sequence")
    return batch


def check_chain(last_seq: int, last_hash: str, body: dict[str, Any] | messages.Batch) -> None:
    """The chain rule for a new (not re-sent) batch: next sequence, previous hash."""
    first_seq, prev_hash = (
        (body.first_seq, body.prev_hash) if isinstance(body, messages.Batch) else (body["first_seq"], body["prev_hash"])
    )
    if first_seq != last_seq + 1:
        raise error("sequence_gap", resume_from=last_seq + 1, last_hash=last_hash)
    if prev_hash != last_hash:
        raise error("chain_broken", resume_from=last_seq + 1, last_hash=last_hash)


# --- hub messages ------------------------------------------------------------


def response_body(
    node_id: str,
    request_hash: str,
    *,
    ack: dict[str, Any] | None,
    last_seq: int,
    last_hash: str,
    updates: list[dict[str, Any]],
    cursor: int,
    more: bool,
    catalogue: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    error_body: dict[str, Any] | None = None,
    out_seq: int | None = None,
) -> dict[str, Any]:
    """The hub's signed answer: the ack, where the node stands, and the village's updates."""
    body = hub_header("response", node_id, request_hash)
    body["ack"] = ack
    body["last_seq"] = last_seq
    body["last_hash"] = last_hash
    body["updates"] = updates
    body["cursor"] = cursor
    body["more"] = more
    if catalogue is not None:
        body["catalogue"] = catalogue
    if history is not None:
        body["history"] = history
    if error_body is not None:
        body["error"] = error_body
    if out_seq is not None:
        # The end of the hub's log for this village: below the node's cursor means a restored hub.
        body["out_seq"] = out_seq
    return body


# --- hub key rotation (protocol 2) -------------------------------------------


def refusal_body(error: ProtocolError) -> dict[str, Any]:
    """The answer to a request refused before any node is known: no ack, no history, the error."""
    return response_body(
        "",
        "",
        ack=None,
        last_seq=0,
        last_hash=GENESIS_HASH,
        updates=[],
        cursor=0,
        more=False,
        error_body=error.to_body(),
    )


def rotation_body(old_pub: str, new_pub: str, key_version: int) -> dict[str, Any]:
    """The statement 'the hub key old_pub is replaced by new_pub', to be signed by the old key."""
    return {
        "kind": "key_rotation",
        "key_version": key_version,
        "old_pubkey": old_pub,
        "new_pubkey": new_pub,
        "at": iso(utcnow()),
    }


def follow_rotations(pinned: str, chain: Any) -> str:
    """The key a node should pin after the chain: each step must be signed by the key before it.

    Steps that do not start from the key in hand, or whose signature fails, are ignored,
    so a forged or reordered chain leaves the pinned key as it was.
    """
    current = pinned
    if not isinstance(chain, list):
        return current
    for step in chain:
        if not isinstance(step, dict) or not isinstance(step.get("body"), dict) or not isinstance(step.get("sig"), str):
            continue
        body = step["body"]
        if body.get("kind") != "key_rotation" or body.get("old_pubkey") != current:
            continue
        if isinstance(body.get("new_pubkey"), str) and verify_body(current, body, step["sig"]):
            current = body["new_pubkey"]
    return current
