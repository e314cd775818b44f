"""The one declaration of every message (shared/messages.py), and the bytes signatures cover.

1. msgspec's canonical bytes are byte-identical to ``json.dumps``' canonical form for every
   JSON value without floats: non-ASCII, control characters, edge integers; a lone surrogate
   is refused by both.
2. The msgspec parser accepts and refuses exactly what the plain rule (json + no floats +
   nesting bound) does.
3. Every message the code builds fits its declaration; values beyond a bound are refused
   naming the field; validation never changes the body a signature covers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import encoding, messages, protocol, signing
from shared.chunks import chunk_body

EDGE_INTS = [
    0,
    1,
    -1,
    2**31 - 1,
    2**31,
    -(2**31),
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64 - 1,
    2**64,
    10**30,
]
# Every code point but lone surrogates, with control characters, U+2028/9 and non-BMP well represented.
TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(["\x00", "\x1f", "\x7f", "\u2028", "\u2029", "\ufeff", '"', "\\", "/", "\U0001f600", "张"]),
    ),
    max_size=12,
)
INTS = st.one_of(st.integers(), st.sampled_from(EDGE_INTS))
json_values = st.recursive(
    st.none() | st.booleans() | INTS | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=30,
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def reference_canonical(obj: Any) -> bytes:
    """The canonical form as docs/protocol.md defines it, written with the standard library."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


# --- 1. canonical bytes ---------------------------------------------------------------------


@SETTINGS
@given(json_values)
def test_msgspec_canonical_bytes_are_identical(value: Any) -> None:
    assert encoding.canonical_message(value) == reference_canonical(value) == encoding.canonical(value)


@SETTINGS
@given(st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3), json_values)
def test_lone_surrogates_are_refused_by_both_encoders(surrogates: str, value: Any) -> None:
    hostile = {"v": value, "s": surrogates}
    with pytest.raises(UnicodeEncodeError):
        reference_canonical(hostile)
    with pytest.raises(UnicodeEncodeError):
        encoding.canonical_message(hostile)


# --- 2. parsing ----------------------------------------------------------------------------------


def reference_parse(raw: bytes) -> Any:
    """The rule: UTF-8 JSON, no floats or NaN, no lone surrogate, nothing deeper than MAX_DEPTH."""

    def no_float(_: str) -> Any:
        raise ValueError("float")

    value = json.loads(raw.decode("utf-8"), parse_float=no_float, parse_constant=no_float)

    def check(obj: Any, depth: int) -> None:
        if depth > encoding.MAX_DEPTH:
            raise ValueError("deep")
        for child in obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else []:
            check(child, depth + 1)

    check(value, 0)
    reference_canonical(value)  # a lone surrogate escape cannot be encoded
    return value


def nest(value: Any, levels: int) -> Any:
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


hostile_values = st.recursive(
    st.none() | st.booleans() | INTS | TEXT | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=12,
)


@SETTINGS
@given(
    hostile_values, st.integers(0, 15), st.booleans(), st.sampled_from(["", "\\udcff", "\\ud83d\\ude00", "\\ud800x"])
)
def test_parser_accepts_exactly_what_the_rule_accepts(value: Any, levels: int, ascii_only: bool, escape: str) -> None:
    text = json.dumps(nest(value, levels), ensure_ascii=ascii_only)
    raw = text.replace('"k"', f'"k{escape}"', 1).encode("utf-8") if escape else text.encode("utf-8")
    try:
        expected = reference_parse(raw)
    except (ValueError, RecursionError):
        with pytest.raises(encoding.EncodingError):
            encoding.parse(raw)
    else:
        assert encoding.parse(raw) == expected


@pytest.mark.parametrize(
    "raw", [b"\xef\xbb\xbf{}", b"\xc0\xaf", b'{"a":NaN}', b'{"a":1e5}', b"[1] 2", b'"\x01"', b"9" * 5000, b""]
)
def test_parser_refuses_what_the_rule_refuses(raw: bytes) -> None:
    with pytest.raises(encoding.EncodingError):
        encoding.parse(raw)


# --- 3. the declarations --------------------------------------------------------------------


KEY = signing.generate_key()
IDS = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7D), min_size=1, max_size=40)


@SETTINGS
@given(st.dictionaries(TEXT, json_values, max_size=5))
def test_seal_is_the_canonical_envelope_and_its_frame_holds_the_canonical_body(fields: dict[str, Any]) -> None:
    """seal encodes the body once and frames it: the same bytes as the envelope encoded whole, and the
    body's bytes read back from the frame are canonical(body), so they verify and hash as it does."""
    body = {**fields, "v": 2, "kind": "batch", "名": "张三"}
    sig = signing.sign(KEY, reference_canonical(body))
    raw = protocol.seal(KEY, body)
    assert raw == reference_canonical({"body": body, "sig": sig})
    try:
        parsed, parsed_sig = protocol.parse_envelope(raw)
    except protocol.ProtocolError:
        return  # nested beyond the parser's bound: refused before any signature is looked at
    framed = protocol.framed_body(raw, parsed_sig)
    assert framed == reference_canonical(parsed) == reference_canonical(body)
    assert protocol.signed_bytes(signing.public_b64(KEY), framed, parsed, parsed_sig) == framed
    assert encoding.digest(framed) == protocol.body_hash(parsed)


@pytest.mark.parametrize(
    "frame",
    [
        lambda body, sig: b'{"body":' + body + b', "sig":"' + sig + b'"}',
        lambda body, sig: b'{"body":' + body + b',"sig":"' + sig + b'"} ',
        lambda body, sig: b' {"body":' + body + b',"sig":"' + sig + b'"}',
        lambda body, sig: b'{"sig":"' + sig + b'","body":' + body + b"}",
        lambda body, sig: b'{"body":' + body + b',"sig":"' + sig + b'","x":1}',
        lambda body, sig: b'{"body":' + body + b',"sig":"' + sig[:-1] + b'\\u003d"}',
    ],
)
def test_only_the_canonical_frame_gives_the_body_bytes(frame: Any) -> None:
    body = {"v": 2, "kind": "poll", "名": "张三"}
    sig = signing.sign(KEY, reference_canonical(body))
    raw = frame(reference_canonical(body), sig.encode())
    parsed, parsed_sig = protocol.parse_envelope(raw)
    assert (parsed, parsed_sig) == (body, sig)
    assert protocol.framed_body(raw, parsed_sig) is None
    # Checked as before: the signature over canonical(body).
    assert protocol.signed_bytes(signing.public_b64(KEY), None, parsed, parsed_sig) == reference_canonical(body)


def test_body_bytes_that_do_not_verify_fall_back_to_canonical_body() -> None:
    """The canonical frame around a body written another way (escapes): the signature over
    canonical(body) decides, and a signature by another key verifies neither."""
    body = {"v": 2, "kind": "poll", "名": "张三"}
    sig = signing.sign(KEY, reference_canonical(body))
    escaped = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    raw = b'{"body":' + escaped + b',"sig":"' + sig.encode() + b'"}'
    framed = protocol.framed_body(raw, sig)
    assert framed == escaped != reference_canonical(body)
    assert protocol.signed_bytes(signing.public_b64(KEY), framed, body, sig) == reference_canonical(body)
    other = signing.public_b64(signing.generate_key())
    assert protocol.signed_bytes(other, framed, body, sig) is None


@st.composite
def events(draw: Any, first: int) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 4))
    return [
        {
            "seq": first + i,
            "id": draw(IDS),
            "type": draw(st.sampled_from(sorted(protocol.NODE_EVENT_TYPES))),
            "request_id": draw(IDS),
            "at": protocol.iso(protocol.utcnow()),
            "clerk": draw(TEXT),
            "data": draw(st.dictionaries(TEXT, json_values, max_size=4)),
        }
        for i in range(n)
    ]


@SETTINGS
@given(
    st.integers(1, messages.INT64_MAX - 10).flatmap(lambda first: events(first)),
    st.sampled_from(EDGE_INTS + [5]),
    st.sampled_from(EDGE_INTS + [3]),
)
def test_generated_batches_sign_verify_and_validate(evs: list[dict[str, Any]], cursor: int, pending: int) -> None:
    body = protocol.batch_body("n1", evs, protocol.GENESIS_HASH, 0, catalogue_version=1, app_version="t")
    body["cursor"], body["pending"] = cursor, pending
    raw = protocol.seal(KEY, body)
    parsed, sig = protocol.parse_envelope(raw)
    assert parsed == body
    # The bytes the signature covers are the canonical form, whichever encoder wrote them.
    assert signing.verify(signing.public_b64(KEY), reference_canonical(parsed), sig)
    assert protocol.body_hash(parsed) == encoding.digest(reference_canonical(body))
    before = reference_canonical(parsed)
    fits = 0 <= cursor <= messages.INT64_MAX and 0 <= pending <= messages.INT32_MAX
    try:
        batch = protocol.check_batch_shape(parsed)
    except protocol.ProtocolError as exc:
        assert not fits
        assert exc.code == "bad_body"
        assert exc.extra["field"] in ("cursor", "pending")
    else:
        assert fits
        assert [e.id for e in batch.events] == [e["id"] for e in evs]
    assert reference_canonical(parsed) == before, "validation never changes the signed body"


def _seal_and_open(body: dict[str, Any]) -> dict[str, Any]:
    return protocol.open_envelope(protocol.seal(KEY, body))[0]


def test_every_message_the_code_builds_fits_its_declaration() -> None:
    ev = [
        {
            "seq": 1,
            "id": "e1",
            "type": "request.feedback",
            "request_id": "r1",
            "at": protocol.iso(protocol.utcnow()),
            "clerk": "李文书",
            "data": {"satisfaction": "满意"},
        }
    ]
    built = [
        protocol.batch_body("n1", ev, protocol.GENESIS_HASH, 0, catalogue_version=1, app_version="t"),
        protocol.poll_body("n1", 3, catalogue_version=1, app_version="t"),
        protocol.poll_body("n1", 3, kind="hello", acked_seq=2, catalogue_version=1, app_version="t"),
        chunk_body("n1", "ab" * 32, 0, b"bytes"),
        protocol.response_body(
            "n1",
            "cd" * 32,
            ack={
                "first_seq": 1,
                "last_seq": 1,
                "batch_hash": "ef" * 32,
                "accepted": 0,
                "results": [{"seq": 1, "status": "refused", "code": "unknown_request", "message": "中心没有这件申请"}],
            },
            last_seq=1,
            last_hash="ef" * 32,
            cursor=1,
            more=False,
            out_seq=1,
            updates=[
                {
                    "cseq": 1,
                    "type": "event.refused",
                    "request_id": "r1",
                    "at": protocol.iso(protocol.utcnow()),
                    "seq": 1,
                    "event_type": "request.feedback",
                    "code": "unknown_request",
                    "message": "没有",
                    "state": None,
                }
            ],
        ),
        protocol.refusal_body(protocol.error("sequence_gap", resume_from=1, last_hash=protocol.GENESIS_HASH)),
    ]
    for body in built:
        assert _seal_and_open(body) == body
    assert isinstance(messages.decode_sync(built[2]), messages.Hello)
    assert isinstance(messages.decode_sync(built[1]), messages.Poll)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: b.update(cursor="5"), "cursor"),
        (lambda b: b.update(last_hash="x"), "last_hash"),
        (
            lambda b: b["updates"].append(
                {"cseq": 0, "type": "case.status", "request_id": "r", "at": protocol.iso(protocol.utcnow())}
            ),
            "updates[0].cseq",
        ),
        (lambda b: b.update(ack={"first_seq": 1}), "ack.last_seq"),
    ],
)
def test_a_node_reads_no_answer_that_does_not_fit(change: Any, field: str) -> None:
    body = protocol.response_body(
        "n1", "cd" * 32, ack=None, last_seq=0, last_hash=protocol.GENESIS_HASH, updates=[], cursor=0, more=False
    )
    change(body)
    with pytest.raises(protocol.ProtocolError) as err:
        _seal_and_open(body)
    assert err.value.code == "bad_body"
    assert err.value.extra["field"] == field


def _refusal_body(**extra: Any) -> dict[str, Any]:
    return protocol.refusal_body(protocol.error("rate_limited", **extra))


@pytest.mark.parametrize("extra", [{"retry_after": 1}, {"retry_after": 1, "retry_after_ms": 375}])
def test_a_429_with_or_without_retry_after_ms_is_read(extra: dict[str, int]) -> None:
    """An older hub names whole seconds only; a newer one adds milliseconds. Both fit the declaration."""
    body = _refusal_body(**extra)
    assert _seal_and_open(body) == body
    # An older node's declaration, without the field, reads the newer body too: unknown fields are ignored.
    assert not messages.ErrorBody.__struct_config__.forbid_unknown_fields


@pytest.mark.parametrize("millis", [0, 49, 300_001, -1, 10**20, "375", 375.5, [375]])
def test_a_429_with_retry_after_ms_out_of_its_bounds_is_not_read(millis: Any) -> None:
    with pytest.raises(protocol.ProtocolError) as err:
        _seal_and_open(_refusal_body(retry_after=1, retry_after_ms=millis))
    assert err.value.code == "bad_body"
    # a float does not even parse (canonical JSON has none); every other value breaks the field's bound
    assert err.value.extra.get("field", "error.retry_after_ms") == "error.retry_after_ms"


def test_event_data_declarations_bound_what_the_node_form_bounds() -> None:
    from shared.validation import FEEDBACK_COMMENT_MAX, WITHDRAW_REASON_MAX

    messages.convert({"satisfaction": "满意", "comment": "好" * FEEDBACK_COMMENT_MAX}, messages.FeedbackData)
    messages.convert({"reason": "因" * WITHDRAW_REASON_MAX}, messages.WithdrawnData)
    for data, kind, field in [
        ({"satisfaction": "满意", "comment": "好" * (FEEDBACK_COMMENT_MAX + 1)}, messages.FeedbackData, "comment"),
        ({"satisfaction": "一般"}, messages.FeedbackData, "satisfaction"),
        ({"reason": "因" * (WITHDRAW_REASON_MAX + 1)}, messages.WithdrawnData, "reason"),
        ({"materials": []}, messages.SupplementedData, "materials"),
        ({"sha256": "ab" * 32, "size": messages.MAX_ATTACHMENT_BYTES + 1}, messages.AttachmentAddedData, "size"),
    ]:
        with pytest.raises(messages.MessageError) as err:
            messages.convert(data, kind)
        assert err.value.field == field
