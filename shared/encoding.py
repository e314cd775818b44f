"""Canonical bytes for signing and hashing, and bounded compression for the wire."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from typing import Any


class EncodingError(ValueError):
    """The bytes are not a well-formed message (bad JSON, bad UTF-8, too deep, too big)."""


MAX_DEPTH = 12


def canonical(obj: Any) -> bytes:
    """Deterministic UTF-8 JSON: sorted keys, no spaces, no floats, so signatures are stable."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(data: bytes) -> str:
    """Hex SHA-256 of bytes: batch hashes, attachment hashes."""
    return hashlib.sha256(data).hexdigest()


def _reject_float(value: str) -> Any:
    # Floats do not round-trip byte-for-byte across implementations; the protocol has none.
    raise EncodingError("floats are not allowed in protocol messages")


def _check_depth(obj: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise EncodingError("message nested too deeply")
    if isinstance(obj, dict):
        for v in obj.values():
            _check_depth(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _check_depth(v, depth + 1)


def parse(data: bytes) -> Any:
    """Parse protocol JSON strictly: valid UTF-8, no floats, no NaN, bounded nesting."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError("body is not valid UTF-8") from exc
    bound = _nesting_upper_bound(text) if text.count("[") + text.count("{") > 0 else 0
    if bound > MAX_DEPTH + 2:
        raise EncodingError("message nested too deeply")
    try:
        obj = json.loads(text, parse_float=_reject_float, parse_constant=_reject_float)
    except EncodingError:
        raise
    except (ValueError, RecursionError) as exc:
        raise EncodingError("body is not valid JSON") from exc
    # Within `bound` brackets no value sits deeper than `bound`; only a near miss needs the full walk.
    if bound > MAX_DEPTH:
        _check_depth(obj)
    if _SURROGATE_ESCAPE.search(text):
        _check_unicode(obj)
    return obj


# A \uD800-\uDFFF escape may decode to a lone surrogate, which no UTF-8 encoder accepts.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_unicode(obj: Any) -> None:
    try:
        canonical(obj)
    except UnicodeEncodeError as exc:
        raise EncodingError("body contains an unpaired UTF-16 surrogate") from exc


# A string literal, or an unterminated one running to the end, as the character scan treated it.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?$)', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _nesting_upper_bound(text: str) -> int:
    # A cheap pre-check so a deeply nested body never reaches the recursive parser; the regexes
    # skip string literals and visit only brackets, so it costs little even for a large batch.
    depth = best = 0
    for ch in _BRACKET.findall(_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            if depth > best:
                best = depth
                if best > MAX_DEPTH + 2:
                    return best
        else:
            depth -= 1
    return best


def compress(data: bytes) -> bytes:
    """Compress a body for the wire (zlib/deflate, what HTTP calls 'deflate')."""
    return zlib.compress(data, 6)


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
