"""The node sends zstd bodies only to a hub that says it reads them (docs/protocol.md); an old
hub that names nothing gets deflate, and a hub that cannot read a zstd body gets the same bytes
again, deflated. Real HTTP: a real hub process, and a small server answering as an old hub."""

from __future__ import annotations

import os
import random
import time
import zlib
from pathlib import Path
from typing import Any

from node.capture import capture_request
from node.db import database as node_db
from node.enrolment import enroll
from node.models import Event
from node.sync import SyncClient
from node.transport import (
    BODY_LEVEL,
    LARGE_BODY,
    LARGE_BODY_TUNING,
    HttpTransport,
    accepted_encodings,
    link_is_slow,
)
from shared import encoding
from tests import support
from tests.factories import capture


class SpyTransport(HttpTransport):
    """The real transport, noting the encoding of each body it posts."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.sent: list[str | None] = []

    def _post(self, path: str, body: bytes, body_encoding: str | None) -> tuple[int, bytes]:
        self.sent.append(body_encoding)
        return super()._post(path, body, body_encoding)


def test_a_node_syncs_in_zstd_once_the_hub_has_said_it_reads_it(tmp_path: Path, node_app) -> None:
    hub = support.make_hub(tmp_path)
    hub.start()
    try:
        code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
        transport = SpyTransport(hub.url)
        answers: list[str | None] = []
        servers: list[str | None] = []

        def note(r: Any, *args: Any, **kw: Any) -> None:
            answers.append(r.headers.get("Content-Encoding"))
            servers.append(r.headers.get("Server"))

        transport.session.hooks["response"].append(note)
        key = node_app.extensions["daiban_node_key"]
        with node_db.connection_context():
            enroll(transport, key, code, hub.url)
            for item in ("FP-02", "DB-01", "JF-01", "JF-03"):
                capture_request(capture(item), "李文书")
        report = SyncClient(transport, key).round()
        with node_db.connection_context():
            left = Event.select().where(Event.result.is_null()).count()
    finally:
        transport.session.close()
        hub.stop()
    assert report.acked == 4
    assert left == 0
    assert "zstd" in transport.sent  # the batch went as zstd and the hub took it
    assert transport.sent[0] in ("deflate", None)  # nothing was known before the first answer
    # Answers that compress (the enrolment's catalogue, the hello's) came down in zstd, and were read.
    assert "zstd" in answers
    assert "deflate" not in answers
    assert servers == [None] * len(answers)  # `daiban hub run` names no server on each answer


class OldHub(support.QuietHandler):
    """Answers like a hub from before zstd: reads deflate, names no encodings, refuses anything else."""

    seen: list[str] = []

    def do_POST(self) -> None:  # http.server's name for it
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        name = self.headers.get("Content-Encoding", "")
        OldHub.seen.append(name)
        ok = name != "zstd" and (name != "deflate" or zlib.decompress(raw).startswith(b"{"))
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")


def test_an_old_hub_gets_deflate_and_a_refused_zstd_body_is_sent_again_deflated() -> None:
    body = b'{"body": "' + "村".encode() * 1000 + b'"}'
    with support.serving(OldHub) as url:
        transport = HttpTransport(url)
        try:
            assert transport.exchange("/api/v1/sync", body)[0] == 200
            assert OldHub.seen == ["deflate"]
            assert transport.body_encoding == "deflate"
            transport.body_encoding = "zstd"  # as if this address had been a newer hub a moment ago
            assert transport.exchange("/api/v1/sync", body)[0] == 200
            assert OldHub.seen == ["deflate", "zstd", "deflate"]
            assert transport.body_encoding == "deflate"
        finally:
            transport.session.close()


def test_the_answer_header_is_read_as_rfc_7694_writes_it() -> None:
    assert accepted_encodings("zstd, deflate") == {"zstd", "deflate"}
    assert accepted_encodings(" ZSTD;q=1 ,gzip") == {"zstd", "gzip"}
    assert accepted_encodings(None) == set() == accepted_encodings("")


class SlowOrQuickHub(support.QuietHandler):
    """Reads any body; waits `delay` seconds before answering, as a 2G link would; notes each request."""

    delay = 0.0
    seen: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # http.server's name for it
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        SlowOrQuickHub.seen.append((self.headers.get("Content-Encoding", ""), self.headers.get("Daiban-Link", ""), raw))
        time.sleep(SlowOrQuickHub.delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Accept-Encoding", "zstd, deflate")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_a_large_body_goes_with_the_tuned_search_and_inflates_to_the_same_bytes() -> None:
    rng = random.Random(5)
    words = ["村民", "申请", "低保", "材料", "齐全", "户口", "身份证", '"seq":', "2026-12-01"]
    large = ("[" + ",".join(rng.choice(words) + str(rng.randrange(10**6)) for _ in range(40_000)) + "]").encode()
    small = large[: LARGE_BODY // 2]
    assert len(large) > LARGE_BODY
    with support.serving(SlowOrQuickHub) as url:
        transport = HttpTransport(url)
        transport.body_encoding = "zstd"
        try:
            SlowOrQuickHub.seen = []
            assert transport.exchange("/api/v1/sync", large)[0] == 200
            assert transport.exchange("/api/v1/sync", small)[0] == 200
            (_, _, sent_large), (_, _, sent_small) = SlowOrQuickHub.seen
            assert sent_large == encoding.compress_zstd(large, BODY_LEVEL, LARGE_BODY_TUNING)
            assert sent_large != encoding.compress_zstd(large, BODY_LEVEL)  # the tuning did something
            assert encoding.decompress_zstd(sent_large, len(large)) == large
            # Below LARGE_BODY the level's own parameters, as before.
            assert sent_small == encoding.compress_zstd(small, BODY_LEVEL)
        finally:
            transport.session.close()


def test_the_node_compresses_harder_and_says_so_after_an_exchange_as_slow_as_2g() -> None:
    rng = random.Random(13)  # text varied enough that the two levels compress it differently
    body = b'{"body": "' + "".join(rng.choice("村民申请低保材料齐全户口身份证") for _ in range(3000)).encode() + b'"}'
    # Incompressible, so a quick answer moves ~200 KB: fast by far, however loaded the machine.
    big = b'{"body": "' + os.urandom(100_000).hex().encode() + b'"}'
    with support.serving(SlowOrQuickHub) as url:
        transport = HttpTransport(url)
        try:
            SlowOrQuickHub.seen = []
            assert transport.exchange("/api/v1/sync", body)[0] == 200  # nothing known yet: level 9
            assert transport.exchange("/api/v1/sync", big)[0] == 200
            assert not transport.slow_link
            SlowOrQuickHub.delay = 1.0  # ~1.5 KB in over a second: slower than 100 kbit/s
            assert transport.exchange("/api/v1/sync", body)[0] == 200
            assert transport.slow_link
            SlowOrQuickHub.delay = 0.0
            assert transport.exchange("/api/v1/sync", body)[0] == 200
            sent = SlowOrQuickHub.seen
            assert [s[:2] for s in sent] == [("deflate", ""), ("zstd", ""), ("zstd", ""), ("zstd", "slow")]
            assert sent[2][2] == encoding.compress_zstd(body, BODY_LEVEL)
            assert sent[3][2] == encoding.compress_zstd(body, encoding.ZSTD_SLOW_LINK_LEVEL)
            assert sent[3][2] != sent[2][2]
        finally:
            transport.session.close()


class Recorder(support.QuietHandler):
    """Notes each request's header lines as sent, answers like a hub that reads zstd."""

    protocol_version = "HTTP/1.1"
    seen: list[list[tuple[str, str]]] = []

    def do_POST(self) -> None:  # http.server's name for it
        self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.seen.append(list(self.headers.items()))
        self.send_response(200)
        self.send_header("Accept-Encoding", "zstd, deflate")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_a_request_carries_only_headers_something_reads_and_small_bodies_compress_when_it_pays() -> None:
    hello = b'{"body":{"acked_seq":0,"kind":"hello","last_hash":"' + b"0" * 64 + b'","v":2},"sig":"' + b"A" * 88 + b'"}'
    with support.serving(Recorder) as url:
        transport = HttpTransport(url)
        try:
            Recorder.seen = []
            assert transport.exchange("/api/v1/sync", hello)[0] == 200
            assert transport.exchange("/api/v1/sync", b'{"v":2}')[0] == 200
        finally:
            transport.session.close()
    first, second = ({k.lower(): v for k, v in h} for h in Recorder.seen)
    # Nothing the hub or a proxy does not read: no `Accept: */*`, no `Connection: keep-alive`,
    # no python-requests version; a short name so a log still tells a node from a browser.
    assert set(first) == {"host", "user-agent", "accept-encoding", "content-type", "content-length", "content-encoding"}
    assert first["user-agent"] == "daiban-node"
    assert first["accept-encoding"] == "zstd, deflate"
    # The hello (~300 B) deflates to fewer bytes even with its header line; seven bytes do not.
    assert first["content-encoding"] == "deflate"
    assert int(first["content-length"]) < len(hello) - len("Content-Encoding: deflate\r\n")
    assert "content-encoding" not in second
    assert second["content-length"] == "7"


def test_a_small_exchange_answered_by_a_busy_hub_on_a_lan_is_not_taken_for_2g() -> None:
    hello = 1_700  # bytes up and down, headers included
    assert not link_is_slow(hello, hello / 0.14)  # a loaded hub took 140 ms to answer
    assert link_is_slow(hello, hello / 0.55)  # a 2G hello: ~3 KB/s
    batch = 60_000
    assert link_is_slow(batch, batch / 7.5)  # a 2G batch: ~8 KB/s
    assert not link_is_slow(batch, batch / 0.5)
