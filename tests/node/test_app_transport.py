"""The in-process test transport compresses a body exactly when the node's real transport would."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from node.transport import HttpTransport
from tests.apptransport import AppTransport


class RecordingClient:
    """A stand-in for the hub's test client: notes the coding of each body, answers 200."""

    def __init__(self) -> None:
        self.codings: list[str | None] = []

    def post(self, path: str, data: bytes, content_type: str, headers: dict[str, str]) -> Any:
        self.codings.append(headers.get("Content-Encoding"))
        return type("Answer", (), {"status_code": 200, "data": b"{}"})()


BODIES = {
    # A hello: under a kilobyte, yet deflate saves more than its header (the old 1 KiB rule sent it plain).
    "hello": json.dumps({"type": "hello", "node_id": "N" * 20, "last_hash": "0" * 64, "seq": 0}).encode(),
    "tiny": b'{"a": 1}',
    "batch": json.dumps({"events": [{"type": "request.captured", "seq": i} for i in range(40)]}).encode(),
    "noise": random.Random(1).randbytes(1500),  # over 1 KiB, and deflate cannot shrink it
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_app_transport_compresses_as_the_node_does(name: str) -> None:
    body = BODIES[name]
    client = RecordingClient()
    AppTransport(client).exchange("/api/v1/sync", body)
    _, real = HttpTransport("http://hub.invalid")._pack(body, "deflate")
    assert client.codings == [real]


def test_the_bodies_cover_both_answers_on_both_sides_of_a_kilobyte() -> None:
    coding = {n: HttpTransport("http://hub.invalid")._pack(b, "deflate")[1] for n, b in BODIES.items()}
    assert coding == {"hello": "deflate", "tiny": None, "batch": "deflate", "noise": None}
    assert len(BODIES["hello"]) < 1024 < len(BODIES["noise"])


def test_app_transport_sends_plain_when_told_not_to_compress() -> None:
    client = RecordingClient()
    AppTransport(client, compress=False).exchange("/api/v1/sync", BODIES["batch"])
    assert client.codings == [None]
