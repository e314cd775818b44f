"""Every protocol message, event and update, declared once with its bounds.

These structures are the single declaration the hub and the node parse and validate
against (``decode_*`` below) and that the OpenAPI document is generated from
(``hub/openapi.py``).  Signing does not go through them: the signature covers the
canonical bytes (``shared.encoding``) of the body exactly as it arrived, so validation
can never change the bytes a signature or a batch hash is computed over.

Bounds follow what stores the value: sequence numbers and cursors live in 64-bit
columns, counts and versions in 32-bit ones (PostgreSQL ``integer``), identifiers in
``varchar(40)``.  A value outside its bound is refused as ``bad_body`` naming the
field, before anything touches the database.

What a node sends has no undeclared field: a field a later version adds is declared
here first (the hub stores each event as it came and hands it back in ``history``).
What the hub sends may carry fields a node does not know yet; a node ignores them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta, Struct

from . import corrections, mailbox
from .ratings import Level
from .validation import FEEDBACK_COMMENT_MAX, WITHDRAW_REASON_MAX

# --- bounds ------------------------------------------------------------------

INT32_MAX = 2**31 - 1  # PostgreSQL integer
INT64_MAX = 2**63 - 1  # PostgreSQL bigint, SQLite integer
ID_MAX = 40
MAX_CHUNK_BYTES = 256 * 1024
MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024

# Which versions are spoken is protocol.SUPPORTED_VERSIONS, checked first (check_version) so the
# refusal can say which side must upgrade; hub/openapi.py publishes them as this field's enum.
ProtocolVersion = Annotated[int, Meta(ge=1, le=INT32_MAX, description="protocol version")]

NodeEventType = Literal[
    "request.captured",
    "request.supplemented",
    "request.feedback",
    "message.left",  # 镇长信箱 (shared/mailbox.py), added by the public branch next to request.feedback
    "request.withdrawn",
    "attachment.added",
    "request.corrected",  # the clerk corrects a captured field before the hub's 受理 (shared/corrections.py)
    "case.passed_up",  # 报县级: a township hub, enrolled with its county hub as a node, passes a case up (hub/county/)
    "township.figures",  # a township's figures for one day, aggregates only (hub/county/figures_up.py)
    "township.alert",  # a township's overdue cases or forked village logs, counts and receipt codes only
]
NODE_EVENT_TYPES: frozenset[str] = frozenset(get_args(NodeEventType))

Seq = Annotated[int, Meta(ge=1, le=INT64_MAX, description="gapless per-node sequence number")]
Cursor = Annotated[int, Meta(ge=0, le=INT64_MAX)]
Count = Annotated[int, Meta(ge=0, le=INT32_MAX)]
# Printable ASCII without space and "~": the hub stores a refused event under a key that
# starts with "~" (hub/ingest.refused_key), so no event id can ever collide with it.
Ident = Annotated[str, Meta(min_length=1, max_length=ID_MAX, pattern=r"^[!-}]+$")]
Hex64 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
Timestamp = Annotated[
    str,
    Meta(
        max_length=40,
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$",
        description="ISO 8601 UTC, the sender's wall clock: recorded, never trusted for order",
    ),
]
AppVersion = Annotated[str, Meta(max_length=32)]
Nonce = Annotated[str, Meta(max_length=ID_MAX)]
Signature = Annotated[str, Meta(max_length=128, description="base64 Ed25519 signature over canonical(body)")]
# 32 bytes in base64: 43 symbols, the last carrying 4 bits, then one "=".
PublicKey = Annotated[
    str, Meta(pattern=r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$", description="raw 32-byte key, base64")
]
ShortText = Annotated[str, Meta(max_length=ID_MAX)]
# What the hub writes for people (reasons, notes, messages). Generous on purpose: a node that
# cannot read an answer cannot sync at all, so this only stops the absurd.
Text = Annotated[str, Meta(max_length=65536)]

# Free-form event data values: the parser bounds their nesting (encoding.MAX_DEPTH), and
# hub/openapi.py publishes that bound as the JsonValueAtDepth<n> chain referenced here.
EVENT_DATA_DEPTH = 5  # envelope > body > events > event > data > value
EventData = Annotated[
    dict[str, Any],
    Meta(
        extra_json_schema={"additionalProperties": {"$ref": f"#/components/schemas/JsonValueAtDepth{EVENT_DATA_DEPTH}"}}
    ),
]


# --- node -> hub -------------------------------------------------------------


class Event(Struct, forbid_unknown_fields=True):
    """One event of a node's log as it travels in a batch."""

    seq: Seq
    id: Ident
    type: Annotated[
        str,
        Meta(
            max_length=ID_MAX,
            description=(
                "one of " + ", ".join(sorted(NODE_EVENT_TYPES)) + "; another type is refused for this event only "
                "(unknown_event), so a newer node never blocks its chain"
            ),
        ),
    ]
    request_id: Ident
    data: EventData
    at: Timestamp | None = None
    clerk: Annotated[str, Meta(max_length=64)] | None = None


class _NodeBody(Struct, forbid_unknown_fields=True):
    v: ProtocolVersion
    node_id: Ident
    node_clock: Timestamp


class Batch(_NodeBody, tag_field="kind", tag="batch"):
    """A contiguous run of the node's events, chained to its previous batch."""

    first_seq: Seq
    last_seq: Seq
    prev_hash: Hex64
    cursor: Cursor
    events: Annotated[list[Event], Meta(min_length=1)]
    catalogue_version: Count = 0
    app_version: AppVersion = ""
    pending: Count = 0


class Poll(_NodeBody, tag_field="kind", tag="poll"):
    """Fetch the village's updates after `cursor`."""

    nonce: Nonce
    cursor: Cursor
    acked_seq: Cursor = 0
    catalogue_version: Count = 0
    app_version: AppVersion = ""
    pending: Count = 0


class Hello(Poll, tag="hello"):
    """Ask where the hub says this node stands, with its history after `acked_seq`."""


class AttachmentChunk(_NodeBody, tag_field="kind", tag="attachment"):
    """Attachment bytes from `offset`; empty data asks how many bytes the hub holds."""

    nonce: Nonce
    sha256: Hex64
    offset: Annotated[int, Meta(ge=0, le=MAX_ATTACHMENT_BYTES)]
    # The limit on decoded bytes is checked after decoding (too_large); this bounds the text.
    data: Annotated[str, Meta(max_length=4 * MAX_CHUNK_BYTES, description="base64 bytes from offset")]


SyncMessage = Batch | Poll | Hello


# Enrolment v2 (shared/enrolment.py): the code's secret part never travels, only its 3-symbol id.
CodeId = Annotated[str, Meta(pattern=r"^[2-9A-HJKMNP-Z]{3}$", description="first 3 symbols of the code")]


class EnrolStart(Struct, forbid_unknown_fields=True, tag_field="kind", tag="enrol.start"):
    """Enrolment round 1 (unsigned: the node has no pinned key yet): its keys and SPAKE2 message."""

    v: ProtocolVersion
    code_id: CodeId
    pubkey: PublicKey
    pake: Annotated[str, Meta(pattern=r"^[A-Za-z0-9+/]{1,200}={0,2}$", description="SPAKE2 message A, base64")]
    box_pubkey: PublicKey | None = None
    app_version: AppVersion = ""


class EnrolConfirm(Struct, forbid_unknown_fields=True, tag_field="kind", tag="enrol.confirm"):
    """Enrolment round 2: the node's proof that it holds the code, an HMAC under the SPAKE2 key."""

    v: ProtocolVersion
    code_id: CodeId
    pubkey: PublicKey
    confirm: Hex64


Enrol = EnrolStart | EnrolConfirm


# --- event data --------------------------------------------------------------

MaterialCode = Annotated[str, Meta(min_length=1, max_length=ID_MAX)]
# 好差评's five levels (shared/ratings.py); the old three-level words are among them.
Satisfaction = Level


class SupplementedData(Struct, forbid_unknown_fields=True):
    """request.supplemented: the materials the villager brought later."""

    materials: Annotated[list[MaterialCode], Meta(min_length=1, max_length=100)]
    answers_cseq: (
        Annotated[
            int,
            Meta(
                ge=1,
                le=2**53,
                description="the hub's 补正 request (its entry in the village's log) this supplement answers",
            ),
        ]
        | None
    ) = None


class FeedbackData(Struct, forbid_unknown_fields=True):
    """request.feedback: the villager's rating (好差评), one per matter."""

    satisfaction: Satisfaction
    comment: Annotated[str, Meta(max_length=FEEDBACK_COMMENT_MAX)] | None = None
    channel: Literal["village", "paper"] | None = None  # paper: entered later from the paper form


class MessageLeftData(Struct, forbid_unknown_fields=True):
    """message.left: a 咨询/投诉/建议 for the township, with its own receipt code (shared/mailbox.py)."""

    receipt_code: Annotated[str, Meta(max_length=16)]
    category: Literal["consult", "complaint", "suggestion"]
    content: Annotated[str, Meta(max_length=mailbox.MAX_CONTENT)]
    name: Annotated[str, Meta(max_length=mailbox.MAX_NAME)] = ""
    phone: Annotated[str, Meta(max_length=20)] = ""
    about: Annotated[str, Meta(max_length=mailbox.MAX_ABOUT)] = ""
    window: Annotated[str, Meta(max_length=8)] = ""
    pin: Annotated[str, Meta(max_length=4)] = ""


class WithdrawnData(Struct, forbid_unknown_fields=True):
    """request.withdrawn: why the villager withdrew."""

    reason: Annotated[str, Meta(max_length=WITHDRAW_REASON_MAX)] = ""


class AttachmentAddedData(Struct, forbid_unknown_fields=True):
    """attachment.added: a scan the node will upload by hash."""

    sha256: Hex64
    size: Annotated[int, Meta(ge=1, le=MAX_ATTACHMENT_BYTES)]
    mime: Annotated[str, Meta(max_length=40)] = ""
    name: Annotated[str, Meta(max_length=200)] = ""
    material_code: Annotated[str, Meta(max_length=ID_MAX)] | None = None


class CorrectedData(Struct, forbid_unknown_fields=True):
    """request.corrected: one field of the captured request corrected, with the reason (the receipt code stays)."""

    field: Annotated[str, Meta(pattern=corrections.FIELD_PATTERN, description="as the capture form names it")]
    value: Annotated[str, Meta(max_length=corrections.VALUE_MAX)]
    reason: Annotated[str, Meta(min_length=1, max_length=corrections.REASON_MAX)]
    old: Annotated[str, Meta(max_length=corrections.VALUE_MAX)] = ""


IsoDate = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD")]


class PassedUpData(Struct, forbid_unknown_fields=True):
    """case.passed_up (township -> county): a case the township examined and passes up, with its 初审 opinion.

    The event's request_id is the village's request id, so the county's answer names the same case.
    """

    receipt_code: Annotated[str, Meta(min_length=1, max_length=16)]
    item_code: Annotated[str, Meta(min_length=1, max_length=16)]
    village: Annotated[str, Meta(max_length=100, description="the applicant's village, as the township names it")]
    applicant_name: Annotated[str, Meta(min_length=1, max_length=64)]
    id_number: Annotated[str, Meta(max_length=18)]
    phone: Annotated[str, Meta(max_length=20)]
    captured: EventData
    materials_brought: Annotated[list[MaterialCode], Meta(max_length=100)]
    received_on: IsoDate
    passed_up_on: IsoDate
    passed_up_by: Annotated[str, Meta(max_length=64)]
    opinion: Annotated[str, Meta(max_length=2000, description="the township's 初审 opinion")] = ""


class FiguresLine(Struct, forbid_unknown_fields=True):
    """One item at one village on one day, as a township counts it: numbers only, nobody named."""

    item_code: Annotated[str, Meta(min_length=1, max_length=16)]
    village: Annotated[str, Meta(max_length=100)]
    received: Count
    closed: Count
    on_time: Annotated[int, Meta(ge=0, le=INT32_MAX, description="of those closed, closed by their due date")]
    overdue: Annotated[int, Meta(ge=0, le=INT32_MAX, description="open and past their due date at the day's end")]


class TownshipFiguresData(Struct, forbid_unknown_fields=True):
    """township.figures (township -> county): one day's figures; a resend of the same day replaces it."""

    day: IsoDate
    lines: Annotated[list[FiguresLine], Meta(max_length=5000)]


class TownshipAlertData(Struct, forbid_unknown_fields=True):
    """township.alert (township -> county): cases overdue, or a village log seen forked, on a day.

    Counts and receipt codes only; a resend for the same day, kind and village replaces the last.
    """

    day: IsoDate
    kind: Literal["overdue", "fork"]
    village: Annotated[str, Meta(max_length=100)]
    count: Count
    receipt_codes: Annotated[list[Annotated[str, Meta(min_length=1, max_length=16)]], Meta(max_length=500)] = []


# --- hub -> node -------------------------------------------------------------


# Bounds of ErrorBody.retry_after_ms: never sooner than 50 ms, never longer than the node's backoff cap.
RETRY_AFTER_MS_MIN = 50
RETRY_AFTER_MS_MAX = 300_000


class ErrorBody(Struct):
    """Why the hub refused: a machine code, a sentence for people, and details by code."""

    code: Annotated[str, Meta(max_length=ID_MAX)]
    message: Text
    field: Annotated[str, Meta(max_length=200, description="the field that broke its declared bound")] | None = None
    detail: Text | None = None
    resume_from: Seq | None = None
    last_hash: Hex64 | None = None
    limit: Cursor | None = None
    offset: Cursor | None = None
    supported: list[int] | None = None
    upgrade: Literal["hub", "node"] | None = None
    retry_after: (
        Annotated[
            int,
            Meta(
                ge=0,
                le=2 * 86400,
                description="rate_limited: seconds to wait before sending again (a limit window is at most a day)",
            ),
        ]
        | None
    ) = None
    retry_after_ms: (
        Annotated[
            int,
            Meta(
                ge=RETRY_AFTER_MS_MIN,
                le=RETRY_AFTER_MS_MAX,
                description="rate_limited on sync: the same wait to the millisecond, spread over the work ahead; "
                "a node that reads it waits this instead of retry_after (older nodes ignore it)",
            ),
        ]
        | None
    ) = None


class RefusedResult(Struct):
    """An event of the batch the hub refused (only refusals are listed)."""

    seq: Seq
    status: Literal["refused"]
    code: Annotated[str, Meta(max_length=ID_MAX)]
    message: Text


class Ack(Struct):
    """The hub's acknowledgement of a batch, stored and repeated to a re-send."""

    first_seq: Seq
    last_seq: Seq
    batch_hash: Hex64
    accepted: Count
    results: list[RefusedResult]


class Update(Struct):
    """An entry of the hub's log for the village (case.status carries the case's fields too)."""

    cseq: Seq
    type: Annotated[
        str,
        Meta(
            max_length=ID_MAX,
            description="case.status, case.corrected or event.refused (a county's decision: case.status, CountyDecision)",
        ),
    ]
    request_id: Ident
    at: Timestamp
    state: Annotated[str, Meta(max_length=ID_MAX)] | None = None
    state_label: Text | None = None
    window: ShortText | None = None
    window_name: Text | None = None
    deadline: ShortText | None = None
    missing: list[MaterialCode] | None = None
    missing_names: list[Text] | None = None
    action: (
        Annotated[
            str,
            Meta(
                max_length=ID_MAX,
                description=(
                    "what the hub did: a staff action of shared/states.ACTIONS (to_county, county_approve and county_deny "
                    "included), or publicity_started / publicity_ended, reassigned, extended, supplemented"
                ),
            ),
        ]
        | None
    ) = None
    reason: Text | None = None
    legal_basis: Text | None = None
    note: Text | None = None
    assignee: Annotated[str, Meta(max_length=64)] | None = None
    actor_name: (
        Annotated[
            str,
            Meta(
                max_length=64, description="who acted, as the village shows it: a staff member's display name, or 系统"
            ),
        ]
        | None
    ) = None
    # 报县级 (shared/states.py): with action to_county, county_approve or county_deny; the county's
    # answer names its document. 公示 (低保): with action publicity_started or publicity_ended.
    county_doc_no: Annotated[str, Meta(max_length=64, description="the county's document number (文号)")] | None = None
    county_doc_date: ShortText | None = None
    county_note: Text | None = None
    publicity_start: ShortText | None = None
    publicity_end: ShortText | None = None
    objections: Count | None = None
    duplicate_of: (
        Annotated[
            str,
            Meta(
                max_length=16,
                description="两头受理: the receipt code of the same person's earlier open request for this item",
            ),
        ]
        | None
    ) = None
    # case.corrected (window staff corrected a captured field): which, from what, to what; `reason` says why.
    field: Annotated[str, Meta(pattern=corrections.FIELD_PATTERN)] | None = None
    field_label: Text | None = None
    old: Annotated[str, Meta(max_length=corrections.VALUE_MAX)] | None = None
    value: Annotated[str, Meta(max_length=corrections.VALUE_MAX)] | None = None
    seq: Seq | None = None
    event_type: Any = None  # as the refused event named it
    code: ShortText | None = None
    message: Text | None = None


class CountyDecision(Struct):
    """A county hub's answer to a case a township passed up, as the township reads it from a case.status update.

    The township records it through the same rule as an answer typed in from the county's paper
    (hub/cases.record_county_answer), so it reaches the village on its next sync.
    """

    cseq: Seq
    type: Literal["case.status"]
    request_id: Ident
    action: Literal["county_approve", "county_deny"]
    county_doc_no: Annotated[str, Meta(min_length=1, max_length=64)]
    county_doc_date: IsoDate
    reason: Annotated[str, Meta(max_length=2000)] | None = None
    county_note: Annotated[str, Meta(max_length=2000)] | None = None


class AtCursor(Struct):
    """The digest of the hub's log entry at the node's cursor, so a node can tell a renumbered log."""

    cseq: Cursor
    digest: Annotated[str, Meta(max_length=64)]


class _HubBody(Struct):
    v: ProtocolVersion
    node_id: Annotated[str, Meta(max_length=ID_MAX)]
    request_hash: Annotated[
        str, Meta(max_length=64, description="hash(body) of the message answered; empty when it could not be read")
    ]
    hub_time: Timestamp


class Response(_HubBody, tag_field="kind", tag="response"):
    """The hub's signed answer on /api/v1/sync."""

    ack: Ack | None
    last_seq: Cursor
    last_hash: Hex64
    updates: list[Update]
    cursor: Cursor
    more: bool
    out_seq: Cursor | None = None
    epoch: (
        Annotated[
            str,
            Meta(
                max_length=64, description="the hub's incarnation: new after a restore or a failover (docs/protocol.md)"
            ),
        ]
        | None
    ) = None
    at_cursor: AtCursor | None = None
    catalogue: dict[str, Any] | None = None
    history: list[dict[str, Any]] | None = None
    error: ErrorBody | None = None
    key_rotation: list[dict[str, Any]] | None = None


class AttachmentStatus(_HubBody, tag_field="kind", tag="attachment_status"):
    """How many bytes of an attachment the hub holds for this node's cases."""

    sha256: Annotated[str, Meta(max_length=64)]
    offset: Annotated[int, Meta(ge=0, le=MAX_ATTACHMENT_BYTES, description="bytes the hub holds; send from here")]
    size: Annotated[int, Meta(ge=0, le=MAX_ATTACHMENT_BYTES)]
    complete: Annotated[bool, Meta(description="this node sent every byte and the SHA-256 verified")]
    error: ErrorBody | None = None


class SignedSync(Struct, forbid_unknown_fields=True):
    """A node's signed sync message."""

    body: SyncMessage
    sig: Signature


class SignedChunk(Struct, forbid_unknown_fields=True):
    """A node's signed attachment message."""

    body: AttachmentChunk
    sig: Signature


class SignedResponse(Struct):
    """The hub's signed answer to a sync message."""

    body: Response
    sig: Signature


class SignedAttachmentStatus(Struct):
    """The hub's signed answer to an attachment message (an unreadable body gets a Response)."""

    body: AttachmentStatus | Response
    sig: Signature


class SignedEnrolment(Struct):
    """The hub's answer to an enrolment round (enrol.challenge, then enrolment), signed by the hub key."""

    body: dict[str, Any]
    sig: Signature


# --- decoding ----------------------------------------------------------------

_AT = re.compile(r" - at `\$\.?(.*)`$")
_MISSING = re.compile(r"(?:missing required|contains unknown) field `([^`]*)`")


class MessageError(ValueError):
    """A message that does not fit its declaration; `field` names where (dotted path)."""

    def __init__(self, field: str, detail: str):
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _field_of(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    at = _AT.search(text)
    path = at.group(1) if at else ""
    missing = _MISSING.search(text)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path


def convert(value: Any, kind: Any) -> Any:
    """Validate parsed JSON against a declared type; MessageError naming the field if it does not fit."""
    try:
        return msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise MessageError(_field_of(exc), str(exc)) from None


def decode_sync(body: dict[str, Any]) -> Batch | Poll | Hello:
    """A node's sync message body (batch, poll or hello)."""
    message: Batch | Poll | Hello = convert(body, SyncMessage)
    return message


def decode_chunk(body: dict[str, Any]) -> AttachmentChunk:
    """A node's attachment message body."""
    chunk: AttachmentChunk = convert(body, AttachmentChunk)
    return chunk


def decode_enrol(body: dict[str, Any]) -> EnrolStart | EnrolConfirm:
    """A node's enrolment message (either round)."""
    enrol: EnrolStart | EnrolConfirm = convert(body, Enrol)
    return enrol


_BY_KIND: dict[str, Any] = {
    "batch": Batch,
    "poll": Poll,
    "hello": Hello,
    "attachment": AttachmentChunk,
    "response": Response,
    "attachment_status": AttachmentStatus,
}


def validate_body(body: dict[str, Any]) -> None:
    """Check a body of any declared kind; bodies of other kinds (enrolment, key rotation) pass through."""
    kind = _BY_KIND.get(str(body.get("kind")))
    if kind is not None:
        convert(body, kind)


def schema_components(types: list[Any], ref_template: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """JSON Schema for the given declared types, with their components (for the OpenAPI document)."""
    schemas, components = msgspec.json.schema_components(types, ref_template=ref_template)
    return list(schemas), components
