"""Canonical bytes, strict parsing and bounded inflation."""

from __future__ import annotations

import json
import os
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import encoding

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_round_trips_to_identical_bytes(value) -> None:
    raw = encoding.canonical(value)
    assert encoding.canonical(encoding.parse(raw)) == raw


def test_canonical_ignores_key_order_and_keeps_chinese() -> None:
    a = encoding.canonical({"b": 1, "a": "张三"})
    assert a == encoding.canonical({"a": "张三", "b": 1}) == '{"a":"张三","b":1}'.encode()


@pytest.mark.parametrize(
    "raw",
    [b"1.5", b'{"a": NaN}', b"\xff\xfe", b"[" * 50 + b"]" * 50, b"{", b"[" * 100_000 + b"]" * 100_000, b"[" * 100_000],
)
def test_parse_refuses_floats_bad_utf8_deep_nesting_and_garbage(raw: bytes) -> None:
    with pytest.raises(encoding.EncodingError):
        encoding.parse(raw)


def test_decompress_refuses_bomb_and_garbage() -> None:
    data = b"a" * 10_000
    assert encoding.decompress(encoding.compress(data), 10_000) == data
    with pytest.raises(encoding.EncodingError):
        encoding.decompress(zlib.compress(b"a" * 10_001), 10_000)
    with pytest.raises(encoding.EncodingError):
        encoding.decompress(b"not deflate", 10_000)


stored_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _typed(value):  # json.loads' result with every scalar's type kept (1, 1.0 and True differ)
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, float) and value != value:
        return (float, "nan")
    return (type(value), value)


@given(stored_values)
def test_load_stored_reads_what_json_loads_reads(value) -> None:
    """Whatever node/db.JSONField writes (floats, NaN, huge ints, any text), read back as json.loads does."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    expected = _typed(json.loads(text))
    assert _typed(encoding.load_stored(text)) == expected
    assert _typed(encoding.load_stored(text.encode("utf-8", "surrogatepass"))) == expected


@pytest.mark.parametrize(
    "text", ['{"a": NaN, "b": Infinity}', "1e400", '"\\ud800"', '{"a": 1, "a": 2}', str(10**40), "-0", "-0.0"]
)
def test_load_stored_edge_cases_match_json_loads(text: str) -> None:
    assert _typed(encoding.load_stored(text)) == _typed(json.loads(text))
    assert _typed(encoding.load_stored(text.encode())) == _typed(json.loads(text))


@given(json_values)
def test_sealed_is_seal_and_body_hash_from_one_encoding(value) -> None:
    """signing.sealed gives protocol.seal's bytes, byte for byte, and protocol.body_hash."""
    from shared import protocol, signing

    key = signing.generate_key()
    body = {"v": 1, "kind": "batch", "data": value, "名": "张三"}
    envelope, body_hash = signing.sealed(key, body)
    # The envelope as the protocol defines it, encoded whole; Ed25519 signatures are deterministic.
    reference = encoding.canonical({"body": body, "sig": signing.sign(key, encoding.canonical(body))})
    assert envelope == protocol.seal(key, body) == reference
    assert body_hash == protocol.body_hash(body)
    assert encoding.canonical(encoding.parse(envelope)) == envelope


def test_a_tuned_zstd_frame_holds_its_size_and_inflates_to_the_same_bytes() -> None:
    import zstandard

    data = b"".join(b'{"seq":%d,"name":"\xe6\x9d\x91%d"},' % (i, i * 7919 % 1000) for i in range(20_000))
    tuned = encoding.compress_zstd(data, 11, {"hash_log": 19, "min_match": 6})
    assert tuned != encoding.compress_zstd(data, 11)
    assert zstandard.get_frame_parameters(tuned).content_size == len(data)
    assert encoding.decompress_zstd(tuned, len(data)) == data
    with pytest.raises(encoding.EncodingError):
        encoding.decompress_zstd(tuned, len(data) - 1)


def test_compression_is_used_only_when_it_saves_more_than_its_headers() -> None:
    text = b'{"body":{"last_hash":"' + b"0" * 64 + b'","kind":"response"},"sig":"' + b"A" * 88 + b'"}'
    assert encoding.pays(len(text), len(encoding.compress_zstd(text)), "zstd", answer=True)
    noise = os.urandom(300).hex().encode()[:300]  # hex: deflate takes it to ~55 %, zstd too
    assert encoding.pays(len(noise), len(encoding.compress(noise)), "deflate")
    tiny = b'{"v":2}'
    assert not encoding.pays(len(tiny), len(encoding.compress_zstd(tiny)), "zstd")
    # The header lines are what tips it: 30 B saved is not enough for an answer's two lines.
    assert encoding.pays(100, 70, "zstd")
    assert not encoding.pays(100, 70, "zstd", answer=True)


def _nested(levels: int, inner: str) -> bytes:
    """`inner` inside `levels` containers, lists and dicts in turn."""
    raw = inner
    for i in range(levels):
        raw = f"[{raw}]" if i % 2 else f'{{"k":{raw}}}'
    return raw.encode()


@pytest.mark.parametrize("levels", range(encoding.TYPED_DEPTH - 1, encoding.MAX_DEPTH + 3))
def test_the_bound_holds_below_the_declared_levels(levels: int) -> None:
    # Below TYPED_DEPTH msgspec decodes untyped and the bound is checked in Python: the same rule.
    for inner in ("[]", "{}", "1", '"s"', "[1]", '{"a":null}'):
        raw = _nested(levels, inner)
        deepest = levels + (1 if inner in ("[1]", '{"a":null}') else 0)  # the depth of the deepest value
        if deepest > encoding.MAX_DEPTH:
            with pytest.raises(encoding.EncodingError, match="nested too deeply"):
                encoding.parse(raw)
        else:
            assert encoding.parse(raw) == json.loads(raw)
    with pytest.raises(encoding.EncodingError, match="floats are not allowed"):
        encoding.parse(_nested(levels, "[1.5]"))


@given(st.lists(json_values, max_size=6), json_values)
def test_canonical_list_writes_the_values_as_canonical_message_would(values, other) -> None:
    spliced = encoding.canonical_list([encoding.canonical_message(v) for v in values])
    assert encoding.canonical_message({"z": other, "events": spliced, "a": 1}) == encoding.canonical_message(
        {"z": other, "events": values, "a": 1}
    )
