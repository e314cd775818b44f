"""A batch is compressed while it is being stored, and still leaves only once it is stored.

node/sync._Packing compresses a batch's envelope in a thread from the moment it is signed, while
the round's thread writes and commits it; HttpTransport.pack_ahead keeps those bytes for the
exchange that sends that very body. Real HTTP: a real hub process, and a small recording server.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from node import transport as node_transport
from node.capture import capture_request
from node.db import database as node_db
from node.enrolment import enroll
from node.models import Event
from node.sync import SyncClient
from node.transport import HttpTransport
from shared import encoding, protocol
from tests import support
from tests.factories import capture


class Recorder(support.QuietHandler):
    """Answers 200 to anything; keeps each body as it came (coding, bytes)."""

    seen: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # http.server's name for it
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.seen.append((self.headers.get("Content-Encoding", ""), raw))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def recorder():
    Recorder.seen = []
    with support.serving(Recorder) as url:
        yield url


@pytest.fixture
def transports():
    """HttpTransport(url) makers whose sessions are closed after the test."""
    made: list[HttpTransport] = []

    def make(url: str) -> HttpTransport:
        made.append(HttpTransport(url))
        return made[-1]

    yield make
    for t in made:
        t.session.close()


def _counting(monkeypatch) -> list[bytes]:
    """The bodies the transport compresses, in order."""
    done: list[bytes] = []
    real = node_transport.HttpTransport._compress

    def counted(self: HttpTransport, body: bytes, coding: str, slow: bool) -> tuple[bytes, str | None]:
        done.append(body)
        return real(self, body, coding, slow)

    monkeypatch.setattr(node_transport.HttpTransport, "_compress", counted)
    return done


def _body(n: int) -> bytes:
    return encoding.canonical({"body": {"n": n, "text": "村" * 2000}, "sig": "x"})


def test_a_body_packed_ahead_goes_as_the_exchange_would_have_packed_it(recorder, transports, monkeypatch) -> None:
    compressed = _counting(monkeypatch)
    body = _body(1)
    plain = transports(recorder)
    assert plain.exchange("/api/v1/sync", body)[0] == 200
    ahead = transports(recorder)
    ahead.pack_ahead(body)
    assert ahead.exchange("/api/v1/sync", body)[0] == 200
    assert Recorder.seen[0] == Recorder.seen[1]  # the same coding, the same bytes on the wire
    assert Recorder.seen[1][0] == "deflate"
    assert compressed == [body, body]  # once each: the exchange took what was packed ahead


def test_a_body_packed_ahead_is_not_sent_for_another(recorder, transports, monkeypatch) -> None:
    compressed = _counting(monkeypatch)
    first, other = _body(1), _body(2)
    transport = transports(recorder)
    transport.pack_ahead(first)
    assert transport.exchange("/api/v1/sync", other)[0] == 200
    coding, raw = Recorder.seen[0]
    assert coding == "deflate"
    assert encoding.decompress(raw, protocol.MAX_INFLATED_BYTES) == other
    assert compressed == [first, other]
    # Kept for one exchange only: the next one compresses again.
    assert transport.exchange("/api/v1/sync", first)[0] == 200
    assert encoding.decompress(Recorder.seen[1][1], protocol.MAX_INFLATED_BYTES) == first
    assert compressed == [first, other, first]


class StoredFirst(HttpTransport):
    """The real transport; before each batch leaves, looks in the node's database from another
    connection (what a power cut would leave) for that batch, stored with these very bytes."""

    def __init__(self, url: str, db_file: Path) -> None:
        super().__init__(url)
        self.db_file = db_file
        self.batches: list[tuple[int, bool]] = []

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        msg = encoding.parse(body).get("body") if path == "/api/v1/sync" else None
        if msg and msg.get("kind") == "batch":
            with sqlite3.connect(self.db_file) as other:
                row = other.execute("SELECT envelope FROM batch WHERE first_seq = ?", (msg["first_seq"],)).fetchone()
            self.batches.append((msg["first_seq"], row is not None and bytes(row[0]) == body))
        return super().exchange(path, body)


def test_every_batch_is_compressed_once_and_leaves_only_once_committed(tmp_path: Path, node_app, monkeypatch) -> None:
    monkeypatch.setattr(protocol, "DEFAULT_BATCH_EVENTS", 2)  # 6 captures, 3 batches: two go ahead
    compressed = _counting(monkeypatch)
    threads: list[str] = []
    real = node_transport.HttpTransport.pack_ahead

    def noted(self: HttpTransport, body: bytes) -> None:
        threads.append(threading.current_thread().name)
        real(self, body)

    monkeypatch.setattr(node_transport.HttpTransport, "pack_ahead", noted)
    hub = support.make_hub(tmp_path)
    hub.start()
    try:
        code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
        transport = StoredFirst(hub.url, Path(node_app.config["DATA_DIR"]) / "node.sqlite3")
        key = node_app.extensions["daiban_node_key"]
        with node_db.connection_context():
            enroll(transport, key, code, hub.url)
            for item in ("FP-02", "DB-01", "JF-01", "JF-03", "FP-02", "JF-01"):
                capture_request(capture(item), "李文书")
        compressed.clear()
        report = SyncClient(transport, key).round()
        with node_db.connection_context():
            acked = Event.select().where(Event.result == "ok").count()
    finally:
        transport.session.close()
        hub.stop()
    assert report.acked == acked == 6
    assert transport.batches == [(1, True), (3, True), (5, True)]  # each stored, as sent, before it left
    assert threads == ["daiban-sync-pack"] * 3  # each batch compressed ahead, beside its storing
    batch_bodies = [b for b in compressed if encoding.parse(b).get("body", {}).get("kind") == "batch"]
    assert len(batch_bodies) == 3  # and never again by its exchange
