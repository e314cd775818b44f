"""The node's sync client against a real hub app in-process: offline capture, lost answers, 413, trust."""

from __future__ import annotations

import shutil
import time

import pytest

from hub import cases
from hub.models import Case, ForkAlert, Node
from node import meta, outbox
from node.capture import capture_request
from node.db import database as node_db
from node.models import Batch, Event, Request
from node.sync import SyncClient
from node.transport import TransportError, TrustError
from shared import signing
from tests.apptransport import AppTransport, drop
from tests.factories import capture
from tests.linked import link


@pytest.fixture
def linked(hub_app, node_app):
    """An enrolled node and its sync client, wired to the hub app through AppTransport."""
    transport = AppTransport(hub_app.test_client(), compress=False)  # bodies as large as built, so 413 tests bite
    return link(hub_app, node_app, transport=transport).client(), transport


def local(code: str) -> Request:
    with node_db.connection_context():
        return Request.get(Request.receipt_code == code)


def test_capture_offline_then_sync_and_status_flows_back(linked) -> None:
    client, transport = linked
    transport.fault = drop("before", times=99)
    with node_db.connection_context():
        codes = [capture_request(capture(item), "李文书").receipt_code for item in ("FP-02", "DB-01", "JF-01")]
    with pytest.raises(TransportError):
        client.round()
    with node_db.connection_context():
        assert "无法" in (meta.get("last_error") or "") or "断线" in (meta.get("last_error") or "")
    transport.fault = None
    report = client.round()
    assert report.acked == 3
    assert sorted(c.receipt_code for c in Case.select()) == sorted(codes)
    cases.act(codes[0], "accept", "王芳")
    cases.act(codes[1], "ask_materials", "王芳", missing=["M-INCOME"])
    client.round()
    assert local(codes[0]).state == "accepted"
    assert local(codes[0]).deadline
    assert local(codes[1]).state == "needs_materials"
    assert local(codes[1]).hub_missing_names == ["家庭收入及财产状况声明"]
    assert local(codes[2]).state == "received"


def test_lost_answer_resends_same_bytes_and_counts_once(linked) -> None:
    client, transport = linked
    with node_db.connection_context():
        capture_request(capture("DB-03"), "李文书")
    client.round()  # hello + nothing queued yet? no: one capture queued
    with node_db.connection_context():
        capture_request(capture("JF-02"), "李文书")
    transport.fault = drop("after")
    with pytest.raises(TransportError):
        client.round()
    first_try = transport.sent[-1]
    with node_db.connection_context():
        assert Batch.select().where(Batch.state == "pending").count() == 1
    transport.fault = None
    client.round()
    assert first_try in transport.sent[-3:]
    assert Case.select().count() == 2
    with node_db.connection_context():
        assert Batch.select().where(Batch.state == "pending").count() == 0
        assert Event.select().where(Event.result.is_null()).count() == 0


def test_hub_413_splits_batch_and_quarantines_lone_giant(linked, hub_app) -> None:
    client, transport = linked
    client.round()
    hub_app.config["MAX_CONTENT_LENGTH"] = 6000
    with node_db.connection_context():
        for _ in range(12):
            capture_request(capture("JF-01"), "李文书")
    report = client.round()
    assert report.split >= 1
    assert Case.select().count() == 12
    hub_app.config["MAX_CONTENT_LENGTH"] = 600
    with node_db.connection_context():
        capture_request(capture("JF-01"), "李文书")
    report = client.round()
    assert report.quarantined == 1
    with node_db.connection_context():
        assert Event.select().where(Event.quarantined == True).count() == 1
        assert outbox.queued_count() == 0


def test_forged_hub_answer_not_applied(linked) -> None:
    client, transport = linked
    client.round()
    with node_db.connection_context():
        meta_key = meta.get("hub_pubkey")
        with node_db.atomic():
            meta.put("hub_pubkey", signing.public_b64(signing.generate_key()))
        capture_request(capture("FP-01"), "李文书")
    with pytest.raises(TrustError):
        client.round()
    with node_db.connection_context():
        assert Batch.select().where(Batch.state == "pending").count() == 1
        assert Event.select().where(Event.result.is_null()).count() == 1
        with node_db.atomic():
            meta.put("hub_pubkey", meta_key)
    client.round()
    assert Case.select().count() == 1


def test_node_restored_from_old_backup_resumes_without_fork(linked, node_app, tmp_path) -> None:
    client, transport = linked
    with node_db.connection_context():
        capture_request(capture("DB-01"), "李文书")
    client.round()
    db_file = node_db.obj.database
    node_db.close() if not node_db.is_closed() else None
    backup = tmp_path / "backup.sqlite3"
    with node_db.connection_context():
        node_db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(db_file, backup)
    with node_db.connection_context():
        later = capture_request(capture("DB-02"), "李文书").receipt_code
    client.round()
    # the PC dies; the clerk restores last night's backup and carries on
    for suffix in ("", "-wal", "-shm"):
        p = db_file + suffix
        import os

        if os.path.exists(p):
            os.remove(p)
    shutil.copy(backup, db_file)
    fresh = SyncClient(transport, client.key)
    with node_db.connection_context():
        after = capture_request(capture("JF-03"), "李文书").receipt_code
    fresh.round()
    assert ForkAlert.select().count() == 0
    assert Case.select().count() == 3
    hub_node = Node.get()
    with node_db.connection_context():
        assert meta.get("next_seq") - 1 == hub_node.last_seq
        assert meta.get("last_hash") == hub_node.last_hash
        assert Request.get_or_none(Request.receipt_code == later) is not None  # restored from the hub
        assert Request.get(Request.receipt_code == after).state == "received"


@pytest.mark.parametrize("hub_settings", [{"SYNC_MAX_IN_FLIGHT": 1}])  # as the production unit has it
def test_full_hub_makes_the_node_wait_at_least_retry_after(linked, hub_app) -> None:
    from node import scheduler
    from node.transport import BusyError

    client, _transport = linked
    with node_db.connection_context():
        code = capture_request(capture("JF-01"), "李文书").receipt_code
    gate = hub_app.extensions["daiban_admission"]
    gate.held(1.0)  # a storm already refused: the work ahead of this node fills the longest wait
    for _ in range(2 * gate.retry_after_s):
        gate.wait_for(time.monotonic())
    assert gate.free.acquire(blocking=False)  # the hub's only sync slot is busy
    try:
        with pytest.raises(BusyError) as refused:
            client.round()
        # retry_after_ms at the cap: the full wait plus up to half of it, spread by the hub
        assert gate.retry_after_s <= refused.value.retry_after <= 1.5 * gate.retry_after_s
        assert refused.value.jitter == scheduler.FINE_JITTER
        saved = dict(scheduler._state)
        try:
            scheduler._tick(client.round)
            assert scheduler._state["failures"] == 1
            assert scheduler.next_try_in() >= gate.retry_after_s - 1  # monotonic time passed since the tick
        finally:
            scheduler._state.update(saved)
    finally:
        gate.free.release()
    assert Case.select().count() == 0
    report = client.round()
    assert report.acked == 1
    assert [c.receipt_code for c in Case.select()] == [code]


@pytest.mark.parametrize("hub_settings", [{"SYNC_MAX_IN_FLIGHT": 1}])
def test_a_hub_naming_whole_seconds_only_is_waited_as_before(linked, hub_app, monkeypatch) -> None:
    """An older hub's 429 has no retry_after_ms: the node waits retry_after, jittered by up to half."""
    from node import scheduler
    from node.transport import BusyError

    client, _transport = linked
    with node_db.connection_context():
        capture_request(capture("JF-01"), "李文书")
    gate = hub_app.extensions["daiban_admission"]
    monkeypatch.setattr(gate, "wait_for", lambda now: (3, None))
    assert gate.free.acquire(blocking=False)
    try:
        with pytest.raises(BusyError) as refused:
            client.round()
    finally:
        gate.free.release()
    assert refused.value.retry_after == 3.0
    assert refused.value.jitter == scheduler.COARSE_JITTER
    assert client.round().acked == 1
