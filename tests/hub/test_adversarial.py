"""The sync API as a hostile or broken node would use it, on SQLite and PostgreSQL.

Every attempt is refused with its documented code (shared.protocol.ERRORS, or an
event-level refusal code that flows back to the village), leaves stored data as it
was, and the hub keeps serving an honest node next door.
"""

from __future__ import annotations

import shutil
import sqlite3
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub import cases
from hub.enrolment import issue_code, revoke
from hub.models import Case, ForkAlert, HubEvent, Node, NodeEvent
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.apptransport import AppTransport as InProcessLink
from tests.nodesim import NodeSim
from tests.snapshots import hub_sync_state as snapshot


@pytest.fixture
def other(hub_client):
    """An honest neighbour whose service must not suffer."""
    return NodeSim(hub_client, issue_code("杏花村"))


def captured(sim: NodeSim, item: str = "JF-01", prefix: str | None = None) -> tuple[str, str, dict[str, Any]]:
    data = capture(item)
    data["receipt_code"] = new_code(prefix or sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


# Refusals decided before any query (parsing, sizes, content type) run on SQLite only; PostgreSQL
# runs every test whose outcome depends on the database (locks, constraints, transactions).
sqlite_only = pytest.mark.parametrize("hub_db_url", ["sqlite"], indirect=True)


def refused(status: int, resp: dict[str, Any], code: str) -> None:
    """The documented refusal: the code, its HTTP status and its Chinese sentence."""
    assert resp["error"]["code"] == code, resp
    assert (status, resp["error"]["message"]) == protocol.ERRORS[code]
    assert resp.get("ack") is None
    assert resp["updates"] == []


def still_serving(other: NodeSim) -> None:
    """The neighbour's next batch goes through."""
    resp = other.send(other.events(captured(other)))
    assert resp["ack"]["accepted"] == 1


# --- forged, altered, replayed ------------------------------------------------------------


def test_valid_key_used_for_another_villages_node_id(sim: NodeSim, other: NodeSim) -> None:
    body = protocol.batch_body(
        other.node_id, sim.events(captured(other)), other.last_hash, 0, catalogue_version=1, app_version="t"
    )
    before = snapshot()
    status, resp = sim.post(protocol.seal(sim.key, body))  # signed by sim, claims to be other
    refused(status, resp, "bad_signature")
    assert snapshot() == before
    still_serving(other)


def test_own_key_cannot_touch_another_villages_requests(sim: NodeSim, other: NodeSim) -> None:
    """Receipt codes and requests of a neighbour are refused per event; their case is untouched."""
    other.send(other.events(captured(other)))
    theirs = Case.get()
    before = (theirs.state, theirs.materials_brought)
    resp = sim.send(
        sim.events(
            captured(sim, prefix=other.prefix),
            ("request.withdrawn", theirs.request_id, {"reason": "冒名撤回"}),
            ("request.supplemented", theirs.request_id, {"materials": ["sfz"]}),
        )
    )
    codes = [r["code"] for r in resp["ack"]["results"]]
    assert codes == ["bad_receipt_code", "unknown_request", "unknown_request"]
    theirs = Case.get_by_id(theirs.request_id)
    assert (theirs.state, theirs.materials_brought) == before
    assert Case.select().count() == 1


def test_replayed_event_id_and_receipt_code_are_not_doubled(sim: NodeSim) -> None:
    first = sim.events(captured(sim))
    sim.send(first)
    replay = dict(first[0], seq=2)  # same event id, next sequence number
    copycat = captured(sim)
    copycat[2]["receipt_code"] = first[0]["data"]["receipt_code"]
    resp = sim.send([replay, dict(sim.events(copycat)[0], seq=3)])
    assert [r["code"] for r in resp["ack"]["results"]] == ["duplicate_event", "duplicate_request"]
    assert Case.select().count() == 1


def test_replay_of_an_old_batch_after_newer_ones_changes_nothing(sim: NodeSim, other: NodeSim) -> None:
    b1, raw1 = sim.batch(sim.events(captured(sim)))
    s1, r1 = sim.post(raw1)
    sim.advance(b1)
    sim.send(sim.events(captured(sim), captured(sim)))
    before = snapshot()
    s2, r2 = sim.post(raw1)
    assert (s1, s2) == (200, 200)
    assert r1["ack"] == r2["ack"]
    assert snapshot() == before
    still_serving(other)


@sqlite_only
def test_replayed_poll_and_hello_store_nothing(sim: NodeSim) -> None:
    sim.send(sim.events(captured(sim)))
    body = protocol.poll_body(sim.node_id, 0, kind="hello", catalogue_version=1, app_version="t")
    raw = protocol.seal(sim.key, body)
    before = snapshot()
    status, resp = sim.post(raw)
    assert status == 200
    assert resp["last_seq"] == 1
    # A hello counts once (hub/freshness.py): a replay gets no history, and stores nothing.
    for _ in range(2):
        status, resp = sim.post(raw)
        refused(status, resp, "stale_hello")
        assert "history" not in resp
    assert snapshot() == before


def test_old_key_refused_after_revocation_and_reenrolment(hub_client, sim: NodeSim, other: NodeSim) -> None:
    sim.send(sim.events(captured(sim)))
    revoke("桃源村")
    before = snapshot()
    for raw in (
        sim.batch(sim.events(captured(sim)))[1],
        protocol.seal(sim.key, protocol.poll_body(sim.node_id, 0, catalogue_version=1, app_version="t")),
    ):
        status, resp = sim.post(raw)
        refused(status, resp, "revoked")
    assert snapshot() == before
    still_serving(other)
    # The replacement PC takes over the chain with a new key; the stolen key stays useless.
    stolen = sim.key
    replacement = NodeSim(hub_client, issue_code("桃源村"))
    assert replacement.node_id == sim.node_id
    hello = replacement.poll(kind="hello")
    assert hello["last_seq"] == 1
    assert len(hello["history"]) == 1
    replacement.seq, replacement.last_hash = hello["last_seq"], hello["last_hash"]
    _, raw = replacement.batch(replacement.events(captured(replacement)), key=stolen)
    before = snapshot()
    status, resp = replacement.post(raw)
    refused(status, resp, "bad_signature")
    assert snapshot() == before
    assert replacement.send(replacement.events(captured(replacement)))["ack"]["accepted"] == 1


# --- gaps and forks ---------------------------------------------------------------------------


def test_gap_at_the_start_of_the_chain(sim: NodeSim, other: NodeSim) -> None:
    sim.seq = 3
    _, raw = sim.batch(sim.events(captured(sim)))
    before = snapshot()
    status, resp = sim.post(raw)
    refused(status, resp, "sequence_gap")
    assert resp["error"]["resume_from"] == 1
    assert resp["last_hash"] == protocol.GENESIS_HASH
    assert snapshot() == before
    still_serving(other)


def test_fork_inside_an_earlier_batch_is_refused_and_raised(sim: NodeSim, other: NodeSim) -> None:
    first = sim.send(sim.events(captured(sim), captured(sim), captured(sim)))
    assert first["last_seq"] == 3
    sim.seq, sim.last_hash = 1, "ab" * 32  # rewrite history from seq 2
    _, raw = sim.batch(sim.events(captured(sim)))
    before = snapshot()
    status, resp = sim.post(raw)
    refused(status, resp, "fork")
    assert snapshot() == before
    assert ForkAlert.select().count() == 1
    assert ForkAlert.get().stored_hash is None
    still_serving(other)


# --- clocks ------------------------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("days", [-3, 9])
def test_node_clock_days_off_is_recorded_not_trusted(sim: NodeSim, days: int) -> None:
    skew = protocol.utcnow() + timedelta(days=days)
    ids = []
    for i in range(2):
        # the second batch claims to be older than the first: ordering follows seq, not clocks
        clock = skew - timedelta(days=2 * i)
        ev = sim.events(captured(sim))
        ev[0]["at"] = protocol.iso(clock)
        body = protocol.batch_body(sim.node_id, ev, sim.last_hash, 0, catalogue_version=1, app_version="t", clock=clock)
        status, _ = sim.post(protocol.seal(sim.key, body))
        assert status == 200
        sim.advance(body)
        ids.append(ev[0]["request_id"])
    offset = Node.get().clock_offset_s
    expected = (days - 2) * 86400
    assert abs(offset - expected) < 120, offset
    cases = {c.request_id: c for c in Case.select()}
    first, second = cases[ids[0]], cases[ids[1]]
    assert first.received_at <= second.received_at, "received_at is the hub's clock, in arrival order"
    assert abs((second.received_at - protocol.utcnow().replace(tzinfo=None)).total_seconds()) < 120
    assert [e.seq for e in NodeEvent.select().order_by(NodeEvent.id)] == [1, 2]
    assert [h.request_id for h in HubEvent.select().order_by(HubEvent.cseq)] == ids


# --- hostile bytes -------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_BODIES = {
    "deep_array": (nested(100_000), "bad_body"),
    "deep_object": (b'{"a":' * 5000 + b"1" + b"}" * 5000, "bad_body"),
    "huge_integer": (b'{"body":{"v":1,"seq":' + b"9" * 5000 + b'},"sig":""}', "bad_body"),
    "float": (b'{"body":{"v":1.0},"sig":""}', "bad_body"),
    "nan": (b'{"body":{"v":NaN},"sig":""}', "bad_body"),
    "overlong_utf8": (b'{"body":{"v":1,"x":"\xc0\xaf"},"sig":""}', "bad_body"),
    "lone_surrogate_escape": (b'{"body":{"v":1,"node_id":"\\udcff"},"sig":""}', "bad_body"),
    "latin1_bytes": ('{"body":{"v":1,"node_id":"café"},"sig":""}'.encode("latin-1"), "bad_body"),
    "not_an_envelope": (b"[1,2,3]", "bad_body"),
    "body_not_object": (b'{"body":"x","sig":"y"}', "bad_body"),
    "bom": (b"\xef\xbb\xbf{}", "bad_body"),
    "empty": (b"", "bad_body"),
}


@sqlite_only
def test_hostile_bytes_refused(sim: NodeSim, other: NodeSim) -> None:
    for name, (raw, code) in sorted(HOSTILE_BODIES.items()):
        before = snapshot()
        status, resp = sim.post(raw)
        assert resp.get("error", {}).get("code") == code, name
        refused(status, resp, code)
        assert snapshot() == before, name
    still_serving(other)


@sqlite_only
def test_signed_batch_nested_too_deep_inside_event_data(sim: NodeSim) -> None:
    ev = sim.events(captured(sim))
    inner: Any = "底"
    for _ in range(20):
        inner = {"x": inner}
    ev[0]["data"]["fields"] = inner
    _, raw = sim.batch(ev)
    before = snapshot()
    status, resp = sim.post(raw)
    refused(status, resp, "bad_body")
    assert snapshot() == before


def size_attack(sim: NodeSim, kind: str) -> tuple[bytes, str]:
    """A body built to exhaust memory or slip past the size caps, and the refusal it must get."""
    if kind == "bomb":
        return zlib.compress(b"{" + b" " * (64 * 1024 * 1024), 1), "too_large"
    if kind == "bomb_under_cap":
        # Under the compressed cap, over the inflated cap: refused before it is all inflated.
        return zlib.compress(b" " * (protocol.MAX_INFLATED_BYTES + 1), 9), "too_large"
    if kind == "bad_deflate":
        return b"\x78\x9c not deflate at all", "bad_body"
    if kind == "gzip_as_deflate":
        import gzip

        return gzip.compress(sim.batch(sim.events(captured(sim)))[1]), "bad_body"
    ev = sim.events(captured(sim))
    ev[0]["data"]["notes"] = "长" * (protocol.MAX_BODY_BYTES // 2)
    return sim.batch(ev)[1], "too_large"  # 3 bytes per 汉字: over the cap on the wire


@sqlite_only
def test_compression_and_size_attacks(sim: NodeSim, other: NodeSim) -> None:
    for kind in ["bomb", "bomb_under_cap", "bad_deflate", "gzip_as_deflate", "signed_too_big"]:
        raw, code = size_attack(sim, kind)
        assert len(raw) < 3 * protocol.MAX_BODY_BYTES
        before = snapshot()
        headers = {} if kind == "signed_too_big" else {"Content-Encoding": "deflate"}
        status, resp = sim.post(raw, **headers)
        assert resp["error"]["code"] == code, kind
        refused(status, resp, code)
        assert snapshot() == before, kind
    still_serving(other)


@sqlite_only
def test_wrong_content_types(sim: NodeSim, other: NodeSim) -> None:
    _, raw = sim.batch(sim.events(captured(sim)))
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "",
    ]:
        before = snapshot()
        status, resp = sim.post(raw, content_type=content_type)
        refused(status, resp, "bad_content_type")
        assert snapshot() == before, content_type
    still_serving(other)


# --- a real node restored from an old backup --------------------------------------------------


def _backup(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included), as a backup tool makes."""
    s, d = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        s.backup(d)
    finally:
        s.close()
        d.close()


def _restore(db: Path, backup: Path) -> None:
    from node.db import database

    if not database.is_closed():
        database.close()
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(backup, db)


def test_node_restored_from_old_backup_resumes_where_the_hub_says(hub_client, node_app, tmp_path: Path) -> None:
    """Back up, sync, capture and sync more, restore the backup: the node catches up and never forks."""
    from node import meta
    from node.capture import capture_request
    from node.db import database
    from node.enrolment import enroll
    from node.models import Event, Request
    from node.sync import SyncClient

    key = node_app.extensions["daiban_node_key"]
    db = Path(node_app.config["DATA_DIR"]) / "node.sqlite3"
    with database.connection_context():
        enroll(InProcessLink(hub_client), key, issue_code("桃源村"), "http://hub")
        before_backup = [capture_request(capture("JF-01"), "李文书").receipt_code for _ in range(3)]
    _backup(db, tmp_path / "backup.sqlite3")
    SyncClient(InProcessLink(hub_client), key).round()
    with database.connection_context():
        after_backup = [capture_request(capture("DB-01"), "李文书").receipt_code for _ in range(2)]
    SyncClient(InProcessLink(hub_client), key).round()
    hub_before = (Node.get().last_seq, Node.get().last_hash)
    assert hub_before[0] == 5
    # Window staff decide on two requests the backup never heard of, and on one it had.
    for code in (after_backup[0], before_backup[0]):
        cases.act(code, "accept", "窗口")
    cases.act(after_backup[1], "ask_materials", "窗口", missing=["M-APPLICATION"])

    _restore(db, tmp_path / "backup.sqlite3")
    with database.connection_context():
        assert int(meta.get("next_seq", 1)) == 1, "the backup predates every batch"
        new = capture_request(capture("FP-01"), "李文书").receipt_code
    report = SyncClient(InProcessLink(hub_client), key).round()
    assert report.resumed
    assert report.acked == 1

    assert ForkAlert.select().count() == 0
    assert [e.seq for e in NodeEvent.select().order_by(NodeEvent.seq)] == [1, 2, 3, 4, 5, 6]
    assert sorted(c.receipt_code for c in Case.select()) == sorted(before_backup + after_backup + [new])
    with database.connection_context():
        assert sorted(r.receipt_code for r in Request.select()) == sorted(before_backup + after_backup + [new])
        seqs = sorted((e.seq, e.event_id) for e in Event.select())
        chain = (int(meta.get("next_seq")) - 1, meta.get("last_hash"), int(meta.get("cursor")))
        states = {r.receipt_code: r.state for r in Request.select()}
    assert seqs == sorted((e.seq, e.event_id) for e in NodeEvent.select())
    node = Node.get()
    assert chain == (node.last_seq, node.last_hash, node.out_seq)
    assert states == {c.receipt_code: c.state for c in Case.select()}, "every hub status reached the restored node"
    assert states[after_backup[0]] == "accepted"
    assert states[after_backup[1]] == "needs_materials"


def test_node_restored_from_backup_pages_through_long_history(
    hub_client, node_app, tmp_path: Path, monkeypatch
) -> None:
    """History comes back a page at a time; every page must be restored, not just the first."""
    from node.capture import capture_request
    from node.db import database
    from node.enrolment import enroll
    from node.models import Request
    from node.sync import SyncClient

    monkeypatch.setattr(protocol, "MAX_UPDATES_PER_RESPONSE", 2)
    key = node_app.extensions["daiban_node_key"]
    db = Path(node_app.config["DATA_DIR"]) / "node.sqlite3"
    with database.connection_context():
        enroll(InProcessLink(hub_client), key, issue_code("桃源村"), "http://hub")
    _backup(db, tmp_path / "backup.sqlite3")
    with database.connection_context():
        codes = [capture_request(capture("FP-01"), "李文书").receipt_code for _ in range(7)]
    SyncClient(InProcessLink(hub_client), key).round()
    for code in codes[:4]:
        cases.act(code, "approve", "窗口")
    _restore(db, tmp_path / "backup.sqlite3")
    SyncClient(InProcessLink(hub_client), key).round()
    with database.connection_context():
        states = {r.receipt_code: r.state for r in Request.select()}
    assert states == {c.receipt_code: c.state for c in Case.select()}
    assert sorted(states) == sorted(codes)


def test_replacement_pc_restores_history_with_current_states(hub_client, tmp_path: Path) -> None:
    """A stolen PC is revoked; the new one starts empty and gets every request back as the hub sees it."""
    from node import create_app
    from node.db import database
    from node.enrolment import enroll
    from node.models import Request
    from node.sync import SyncClient

    old = NodeSim(hub_client, issue_code("桃源村"))
    old.send(old.events(captured(old, "JF-01"), captured(old, "FP-01")))
    jf, fp = (Case.get(Case.item_code == i).receipt_code for i in ("JF-01", "FP-01"))
    cases.act(jf, "accept", "窗口")
    cases.act(fp, "approve", "窗口")
    revoke("桃源村")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "replacement"), "SECRET_KEY": "t"})
    key = app.extensions["daiban_node_key"]
    with database.connection_context():
        enroll(InProcessLink(hub_client), key, issue_code("桃源村"), "http://hub")
    SyncClient(InProcessLink(hub_client), key).round()
    with database.connection_context():
        states = {r.receipt_code: r.state for r in Request.select()}
    assert states == {jf: "accepted", fp: "approved"}


def test_node_restored_with_a_signed_batch_the_hub_already_has(hub_client, node_app, tmp_path: Path) -> None:
    """A backup taken after signing but before the ack: the hub's copy counts, nothing is re-signed."""
    from node import meta, outbox
    from node.capture import capture_request
    from node.db import database
    from node.enrolment import enroll
    from node.sync import SyncClient

    key = node_app.extensions["daiban_node_key"]
    db = Path(node_app.config["DATA_DIR"]) / "node.sqlite3"
    with database.connection_context():
        enroll(InProcessLink(hub_client), key, issue_code("桃源村"), "http://hub")
        for _ in range(2):
            capture_request(capture("JF-01"), "李文书")
        outbox.next_batch(key, protocol.DEFAULT_BATCH_BYTES, protocol.DEFAULT_BATCH_EVENTS)
    _backup(db, tmp_path / "backup.sqlite3")
    SyncClient(InProcessLink(hub_client), key).round()
    _restore(db, tmp_path / "backup.sqlite3")
    with database.connection_context():
        capture_request(capture("JF-01"), "李文书")
    SyncClient(InProcessLink(hub_client), key).round()
    assert ForkAlert.select().count() == 0
    assert Case.select().count() == 3
    with database.connection_context():
        assert (int(meta.get("next_seq")) - 1, meta.get("last_hash")) == (Node.get().last_seq, Node.get().last_hash)


# --- slow-loris against a real hub process -------------------------------------------------


class HttpClient:
    """Just enough of Flask's test client over real HTTP for NodeSim."""

    def __init__(self, base: str):
        self.base = base

    def post(self, path: str, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> Any:
        import requests

        resp = requests.post(
            self.base + path, data=data, timeout=10, headers={"Content-Type": content_type, **(headers or {})}
        )
        resp.data = resp.content  # type: ignore[attr-defined]
        return resp


def test_slow_loris_does_not_stop_the_hub_serving_others(tmp_path: Path) -> None:
    import socket
    import threading
    import time

    from tests import support

    hub = support.make_hub(tmp_path).start()
    stop = threading.Event()
    socks: list[socket.socket] = []
    try:
        # 30 clients promise big bodies and trickle them; 20 never finish their headers.
        for i in range(50):
            s = socket.create_connection(("127.0.0.1", hub.port))
            if i < 30:
                s.sendall(
                    b"POST /api/v1/sync HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000\r\n\r\n{"
                )
            else:
                s.sendall(b"POST /api/v1/sync HTTP/1.1\r\nHost: hub\r\n")
            socks.append(s)

        def trickle() -> None:
            while not stop.is_set():
                for i, s in enumerate(socks[1:], start=1):
                    try:
                        s.sendall(b" " if i < 30 else b"X-Slow: 1\r\n")
                    except OSError:
                        pass
                stop.wait(0.2)

        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(0.5)
        code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
        honest = NodeSim(HttpClient(hub.url), code)
        resp = honest.send(honest.events(captured(honest), captured(honest)))
        assert resp["ack"]["accepted"] == 2
        import requests

        assert requests.get(hub.url + "/healthz", timeout=10).json()["status"] == "ok"
        # A slow body that finally ends is refused like any other bad body, and stores nothing.
        stop.set()
        slow = socks[0]  # kept out of the trickle, so its byte count is known
        slow.sendall(b"x" * (100000 - 1))
        slow.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = slow.recv(65536)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    finally:
        stop.set()
        for s in socks:
            s.close()
        hub.stop()
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as conn:
        assert conn.execute('SELECT count(*) FROM "case"').fetchone()[0] == 2
        assert conn.execute("SELECT last_seq FROM node").fetchone()[0] == 2


@sqlite_only
def test_hub_restored_from_backup_gets_everything_back_from_the_node(
    hub_app, hub_db_url: str, node_app, tmp_path: Path
) -> None:
    """The hub's disk dies and last night's backup comes back: the node re-sends, and new decisions still arrive."""
    from hub.db import database as hub_db
    from node import meta
    from node.capture import capture_request
    from node.db import database
    from node.enrolment import enroll
    from node.models import Request
    from node.sync import SyncClient

    hub_client = hub_app.test_client()
    key = node_app.extensions["daiban_node_key"]
    hub_file = Path(hub_db_url.split("sqlite:///", 1)[1])
    with database.connection_context():
        enroll(InProcessLink(hub_client), key, issue_code("桃源村"), "http://hub")
        first = [capture_request(capture("FP-01"), "李文书").receipt_code for _ in range(2)]
    SyncClient(InProcessLink(hub_client), key).round()
    hub_db.close()
    _backup(hub_file, tmp_path / "hub-backup.sqlite3")
    with database.connection_context():
        later = [capture_request(capture("JF-01"), "李文书").receipt_code for _ in range(3)]
    SyncClient(InProcessLink(hub_client), key).round()
    cases.act(later[0], "accept", "窗口")
    SyncClient(InProcessLink(hub_client), key).round()

    hub_db.close()
    for suffix in ("-wal", "-shm"):
        Path(str(hub_file) + suffix).unlink(missing_ok=True)
    shutil.copy(tmp_path / "hub-backup.sqlite3", hub_file)
    hub_db.connect(reuse_if_open=True)
    assert Case.select().count() == 2
    assert Node.get().last_seq == 2

    client = SyncClient(InProcessLink(hub_client), key)
    client.round()
    # The window decides again on the case whose decision the restore lost, differently, and on another.
    cases.act(later[0], "ask_materials", "窗口", missing=["M-APPLICATION"])
    cases.act(later[1], "accept", "窗口")
    client.round()
    assert sorted(c.receipt_code for c in Case.select()) == sorted(first + later)
    assert ForkAlert.select().count() == 0
    with database.connection_context():
        states = {r.receipt_code: r.state for r in Request.select()}
        chain = (int(meta.get("next_seq")) - 1, meta.get("last_hash"), int(meta.get("cursor")))
    node = Node.get()
    assert chain == (node.last_seq, node.last_hash, node.out_seq)
    assert states == {c.receipt_code: c.state for c in Case.select()}
    assert (states[later[0]], states[later[1]]) == ("needs_materials", "accepted")
