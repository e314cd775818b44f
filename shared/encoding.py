"""Canonical bytes for signing and hashing, and bounded compression for the wire."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import zlib
from typing import Any, Mapping

import msgspec


class EncodingError(ValueError):
    """The bytes are not a well-formed message (bad JSON, bad UTF-8, too deep, too big)."""


MAX_DEPTH = 12


def canonical(obj: Any) -> bytes:
    """Deterministic UTF-8 JSON: sorted keys, no spaces, no floats, so signatures are stable."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


# enc_hook: a refusal built with shared.msgid.N_ is a str subclass; it is written as the plain text.
_MESSAGE_ENCODER = msgspec.json.Encoder(order="sorted", enc_hook=str)


def canonical_message(obj: Any) -> bytes:
    """canonical() of a protocol message, several times faster: the same bytes for JSON without floats.

    Protocol messages hold no floats (parse() refuses them), and for every other JSON value
    msgspec's sorted, compact, UTF-8 output is byte-identical to canonical()
    (tests/shared/test_messages.py checks it with hypothesis). A lone surrogate raises
    UnicodeEncodeError in both.
    """
    return _MESSAGE_ENCODER.encode(obj)


def canonical_list(items: list[bytes]) -> msgspec.Raw:
    """A JSON array of values already encoded by canonical_message, which writes it as it is.

    canonical_message({"k": canonical_list([canonical_message(v) for v in values])}) is
    canonical_message({"k": values}) byte for byte (tests/shared/test_encoding.py): a batch's
    events, encoded one by one to decide where it is cut, are not encoded again in its body.
    """
    return msgspec.Raw(b"[" + b",".join(items) + b"]")


_STORED_DECODER = msgspec.json.Decoder()


def load_stored(text: bytes | str) -> Any:
    """json.loads(text) for JSON this program stored itself (node/db.JSONField), faster (give it bytes).

    msgspec reads every JSON value to the same Python value as json.loads (duplicate keys: the
    last wins in both; tests/shared/test_encoding.py checks it with hypothesis). What msgspec
    refuses and json.loads reads (NaN, Infinity, a number beyond a float, a lone surrogate) is
    read by json.loads.
    """
    try:
        return _STORED_DECODER.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def digest(data: bytes | memoryview) -> str:
    """Hex SHA-256 of bytes: batch hashes, attachment hashes."""
    return hashlib.sha256(data).hexdigest()


# The nesting bound is declared to msgspec for the first TYPED_DEPTH levels; a value found that deep
# is decoded untyped and its depth checked in Python (_checked_below). Declared all the way down
# (MAX_DEPTH), building the decoder took 0.13-0.2 s of CPU per process: msgspec expands the type of
# a level once for its lists and once for its dicts, 2^depth times. Eight levels cost ~2 ms, and
# the protocol's messages stop short of them (envelope, body, events or updates, data, a field's
# list), so the check below runs only for the odd message that goes deeper.
TYPED_DEPTH = 8


class _AnyValue(type):
    # msgspec checks that a decoding hook returned an instance of the type it was asked for:
    # every JSON value is one of _Below.
    def __instancecheck__(cls, value: Any) -> bool:
        return True


class _Below(metaclass=_AnyValue):
    """Any JSON value TYPED_DEPTH levels down, handed to _checked_below as decoded (untyped)."""


def _json_within(depth: int) -> Any:
    # JSON values without floats, nested `depth` levels deep below this one, then _Below.
    level: Any = _Below
    for _ in range(depth):
        level = str | int | bool | None | list[level] | dict[str, level]
    return level


def _nested_beyond(value: Any, levels: int) -> bool:
    """True when `value` holds anything more than `levels` levels below it."""
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    if levels == 0:
        return len(children) > 0
    return any(_nested_beyond(child, levels - 1) for child in children)


def _checked_below(kind: type, value: Any) -> Any:
    if kind is not _Below:
        raise NotImplementedError
    if _nested_beyond(value, MAX_DEPTH - TYPED_DEPTH):
        raise ValueError("nested too deeply")
    return value


def _no_float(text: str) -> Any:
    # A float below TYPED_DEPTH, where msgspec decodes untyped: refused as a declared level refuses it.
    raise ValueError("got `float`")


@functools.cache
def _decoder() -> msgspec.json.Decoder:
    # Built on first use, not at import (~2 ms of CPU, see TYPED_DEPTH).
    return msgspec.json.Decoder(_json_within(TYPED_DEPTH), dec_hook=_checked_below, float_hook=_no_float)


_AT = re.compile(r" - at `\$(.*)`$")


def parse(data: bytes) -> Any:
    """Parse protocol JSON strictly: valid UTF-8, no floats, no NaN, bounded nesting, no lone surrogates."""
    try:
        return _decoder().decode(data)
    except msgspec.ValidationError as exc:
        text = str(exc)
        at = _AT.search(text)
        where = f" at {at.group(1)}" if at else ""
        if "got `float`" in text:
            raise EncodingError("floats are not allowed in protocol messages" + where) from None
        if "out of range" in text:
            raise EncodingError("integer out of range" + where) from None
        raise EncodingError("message nested too deeply") from None
    except msgspec.DecodeError as exc:
        text = str(exc)
        if "UTF-8" in text:
            raise EncodingError("body is not valid UTF-8") from None
        if "surrogate" in text:
            raise EncodingError("body contains an unpaired UTF-16 surrogate") from None
        raise EncodingError("body is not valid JSON") from None
    except RecursionError:
        # Below TYPED_DEPTH msgspec decodes untyped, as deep as Python's recursion limit lets it.
        raise EncodingError("message nested too deeply") from None


def pays(plain: int, packed: int, coding: str, answer: bool = False) -> bool:
    """True when a body of `plain` bytes, `packed` once compressed in `coding`, is fewer bytes
    compressed, counting the header lines compression adds (`Content-Encoding`, and on an answer
    `Vary: Accept-Encoding`). The hello and its answer (~340 and ~490 B, a 64-zero hash, JSON
    keys) save 40 and 90 B: every sync starts with them, and most syncs of a village are only them.
    """
    added = len(f"Content-Encoding: {coding}\r\n") + (len("Vary: Accept-Encoding\r\n") if answer else 0)
    return packed + added < plain


def compress(data: bytes) -> bytes:
    """Compress a body for the wire (zlib/deflate, what HTTP calls 'deflate')."""
    return zlib.compress(data, 6)


# zstd level 9: 13 % fewer bytes than deflate on the seeded batches for about its CPU
# (docs/performance.md, `python -m bench.compression`).
ZSTD_LEVEL = 9
# Over a slow link (2G) bytes cost more than CPU: level 19 takes ~10 % fewer bytes than 9 for
# ~20x its CPU, a third of a second per 1,000 requests (docs/performance.md, "second pass").
ZSTD_SLOW_LINK_LEVEL = 19


def compress_zstd(data: bytes, level: int = ZSTD_LEVEL, tuning: Mapping[str, int] | None = None) -> bytes:
    """Compress a body for the wire with zstd (HTTP `Content-Encoding: zstd`, RFC 8878).

    `tuning`: zstd parameters (zstandard.ZstdCompressionParameters' names) set over those the
    level itself picks for a body of this size; any frame is read the same way.
    """
    import zstandard  # loaded on the first sync, not by an idle node

    if not tuning:
        return zstandard.ZstdCompressor(level=level).compress(data)
    params = zstandard.ZstdCompressionParameters.from_level(level, source_size=len(data), **tuning)
    return zstandard.ZstdCompressor(compression_params=params).compress(data)


def named_encodings(header: str | None) -> set[str]:
    """The content codings an `Accept-Encoding` header names, lower case, parameters dropped (RFC 9110)."""
    return {part.split(";")[0].strip().lower() for part in (header or "").split(",")} - {""}


def decompress_zstd(data: bytes, limit: int) -> bytes:
    """Decompress one zstd frame of at most `limit` bytes; a bigger result (a bomb) is refused."""
    import io

    import zstandard

    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            out = reader.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise EncodingError("body is not valid zstd data") from exc
    if len(out) > limit:
        raise EncodingError("body inflates beyond the size limit")
    return out


def decompress(data: bytes, limit: int) -> bytes:
    """Inflate at most `limit` bytes; a bigger result (a compression bomb) is refused."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise EncodingError("body is not valid deflate data") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise EncodingError("body inflates beyond the size limit")
    return out
