"""Canonical bytes, strict parsing and bounded inflation."""

from __future__ import annotations

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


@pytest.mark.parametrize("raw", [b"1.5", b'{"a": NaN}', b"\xff\xfe", b"[" * 50 + b"]" * 50, b"{"])
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
