"""The message builders sign the same bytes as the bodies written out field by field (the wire format).

Each expected body below is the literal dict the builders made before they shared their headers;
the canonical bytes (what is signed and hashed) must stay the same whatever the arguments.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import chunks, encoding, protocol

NOW = datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=UTC)
NONCE = "n" * 32

names = st.text(min_size=0, max_size=40)
counts = st.integers(min_value=0, max_value=2**53)


@pytest.fixture(autouse=True, scope="module")
def fixed_clock_and_nonce() -> Iterator[None]:
    """Every builder reads the same clock and nonce, so the bodies can be written out in advance."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocol, "utcnow", lambda: NOW)
        patch.setattr(protocol, "new_id", lambda: NONCE)
        yield


def same_bytes(built: dict[str, Any], expected: dict[str, Any]) -> None:
    assert encoding.canonical_message(built) == encoding.canonical_message(expected)
    assert encoding.canonical_message(built) == encoding.canonical(expected)


@given(node_id=names, cursor=counts, catalogue=counts, app=names, pending=counts, prev=names, first=counts)
def test_batch_body(node_id: str, cursor: int, catalogue: int, app: str, pending: int, prev: str, first: int) -> None:
    events = [{"seq": first, "id": "e1"}, {"seq": first + 1, "id": "e2"}]
    built = protocol.batch_body(
        node_id, events, prev, cursor, catalogue_version=catalogue, app_version=app, pending=pending
    )
    expected = {
        "v": 2,
        "kind": "batch",
        "node_id": node_id,
        "first_seq": first,
        "last_seq": first + 1,
        "prev_hash": prev,
        "node_clock": "2026-12-01T08:30:15.123456Z",
        "cursor": cursor,
        "catalogue_version": catalogue,
        "app_version": app,
        "pending": pending,
        "events": events,
    }
    same_bytes(built, expected)


@given(node_id=names, cursor=counts, acked=counts, catalogue=counts, app=names, pending=counts)
@pytest.mark.parametrize("kind", ["poll", "hello"])
def test_poll_and_hello_bodies(
    kind: str, node_id: str, cursor: int, acked: int, catalogue: int, app: str, pending: int
) -> None:
    built = protocol.poll_body(
        node_id, cursor, kind=kind, acked_seq=acked, catalogue_version=catalogue, app_version=app, pending=pending
    )
    expected = {
        "v": 2,
        "kind": kind,
        "node_id": node_id,
        "nonce": NONCE,
        "node_clock": "2026-12-01T08:30:15.123456Z",
        "cursor": cursor,
        "acked_seq": acked,
        "catalogue_version": catalogue,
        "app_version": app,
        "pending": pending,
    }
    same_bytes(built, expected)


def test_a_given_clock_is_the_one_stated() -> None:
    clock = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    built = protocol.poll_body("n1", 0, catalogue_version=1, app_version="t", clock=clock)
    assert built["node_clock"] == "2026-01-02T03:04:05.000000Z"


@given(node_id=names, offset=counts, data=st.binary(max_size=64))
def test_chunk_body(node_id: str, offset: int, data: bytes) -> None:
    expected = {
        "v": 2,
        "kind": "attachment",
        "node_id": node_id,
        "nonce": NONCE,
        "node_clock": "2026-12-01T08:30:15.123456Z",
        "sha256": "ab" * 32,
        "offset": offset,
        "data": base64.b64encode(data).decode("ascii"),
    }
    same_bytes(chunks.chunk_body(node_id, "ab" * 32, offset, data), expected)


@given(node_id=names, request_hash=names, seq=counts, cursor=counts, more=st.booleans())
def test_response_body(node_id: str, request_hash: str, seq: int, cursor: int, more: bool) -> None:
    ack = {"first_seq": 1, "last_seq": seq, "batch_hash": "ef" * 32}
    updates = [{"cseq": 1, "type": "case.status"}]
    built = protocol.response_body(
        node_id, request_hash, ack=ack, last_seq=seq, last_hash="cd" * 32, updates=updates, cursor=cursor, more=more
    )
    expected = {
        "v": 2,
        "kind": "response",
        "node_id": node_id,
        "request_hash": request_hash,
        "hub_time": "2026-12-01T08:30:15.123456Z",
        "ack": ack,
        "last_seq": seq,
        "last_hash": "cd" * 32,
        "updates": updates,
        "cursor": cursor,
        "more": more,
    }
    same_bytes(built, expected)


def test_response_body_optional_parts() -> None:
    built = protocol.response_body(
        "n1",
        "h",
        ack=None,
        last_seq=0,
        last_hash=protocol.GENESIS_HASH,
        updates=[],
        cursor=0,
        more=False,
        catalogue={"version": 3},
        history=[{"seq": 1}],
        error_body={"code": "x"},
        out_seq=7,
    )
    expected = {
        "v": 2,
        "kind": "response",
        "node_id": "n1",
        "request_hash": "h",
        "hub_time": "2026-12-01T08:30:15.123456Z",
        "ack": None,
        "last_seq": 0,
        "last_hash": protocol.GENESIS_HASH,
        "updates": [],
        "cursor": 0,
        "more": False,
        "catalogue": {"version": 3},
        "history": [{"seq": 1}],
        "error": {"code": "x"},
        "out_seq": 7,
    }
    same_bytes(built, expected)


def test_attachment_status_answer() -> None:
    from hub.attachments import _answer

    expected = {
        "v": 2,
        "kind": "attachment_status",
        "node_id": "n1",
        "request_hash": "h",
        "hub_time": "2026-12-01T08:30:15.123456Z",
        "sha256": "ab" * 32,
        "offset": 10,
        "size": 10,
        "complete": True,
    }
    same_bytes(_answer("n1", "h", "ab" * 32, 10, 10), expected)
    same_bytes(
        _answer("n1", "h", "ab" * 32, 0, 0, {"code": "x"}),
        {**expected, "offset": 0, "size": 0, "complete": False, "error": {"code": "x"}},
    )
