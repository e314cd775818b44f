"""The hub's admission limit on /api/v1/sync: a full hub answers a signed 429 at once and stores nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.admission import QUEUE_HEADER, SLOTS_FILE, Admission, HubSlots, LocalSlots, queue_age
from hub.models import Case
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim
from tests.snapshots import hub_sync_state as snapshot
from tests.support import ROOT


@pytest.fixture(params=["hub-wide", "per-process"])
def hub_settings(request: pytest.FixtureRequest) -> dict[str, object]:
    """One slot: the whole hub's, shared by its processes as the production unit has them
    (hub.env.example), or this process's own (a hub configured before SYNC_SLOTS)."""
    if request.param == "hub-wide":
        return {"SYNC_SLOTS": 1, "SYNC_MAX_IN_FLIGHT": 1}
    return {"SYNC_MAX_IN_FLIGHT": 1}


def test_without_configuration_nothing_is_turned_away(hub_db_url: str, tmp_path) -> None:
    from hub import create_app

    app = create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path / "plain"), "DATABASE_URL": hub_db_url, "SECRET_KEY": "test"}
    )
    assert "daiban_admission" not in app.extensions


def one_batch(sim: NodeSim) -> tuple[dict, bytes]:
    data = capture("JF-01")
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    return sim.batch(sim.events(("request.captured", protocol.new_id(), data)))


def refused(sim: NodeSim, raw: bytes, **headers: str) -> dict:
    """Post and check the refusal is the signed rate_limited error with Retry-After in header and body."""
    resp = sim.client.post("/api/v1/sync", data=raw, content_type="application/json", headers=headers)
    env = json.loads(resp.data)
    assert protocol.verify_body(sim.hub_pub, env["body"], env["sig"])
    assert resp.status_code == 429
    error = env["body"]["error"]
    assert error["code"] == "rate_limited"
    assert error["message"] == protocol.ERRORS["rate_limited"][1]
    assert resp.headers["Retry-After"] == str(error["retry_after"])
    # The signed body fits its declaration (ErrorBody: retry_after_ms, when named, within 50 ms–300 s).
    protocol.open_envelope(resp.data)
    return error


def test_full_hub_refuses_stores_nothing_and_the_resent_batch_counts_once(sim: NodeSim, hub_app) -> None:
    gate = hub_app.extensions["daiban_admission"]
    assert gate.slots == 1
    body, raw = one_batch(sim)
    before = snapshot()
    assert gate.free.acquire(blocking=False)  # another sync holds this process's only slot
    try:
        error = refused(sim, raw)
    finally:
        gate.free.release()
    assert error["retry_after"] == 1  # nothing ahead of it yet: come back in a second, not fifteen
    # ...and, to a node that reads milliseconds, about one sync's time (none measured yet: 0.1 s)
    assert 100 <= error["retry_after_ms"] <= 200
    assert snapshot() == before
    assert Case.select().count() == 0
    status, resp = sim.post(raw)  # the same bytes, later
    assert status == 200
    assert resp["ack"]["accepted"] == 1
    status, again = sim.post(raw)
    assert status == 200
    assert again["ack"] == resp["ack"]
    assert Case.select().count() == 1


def test_request_that_waited_too_long_in_the_proxy_queue_is_refused(sim: NodeSim) -> None:
    _body, raw = one_batch(sim)
    before = snapshot()
    error = refused(sim, raw, **{QUEUE_HEADER: f"t={time.time() - 60:.3f}"})
    assert error["retry_after"] == 15  # a hub whose proxy queue is that long is told to be left alone longest
    assert "retry_after_ms" not in error  # no finer word: the whole wait
    assert snapshot() == before
    status, _resp = sim.post(raw, **{QUEUE_HEADER: f"t={int(time.time() * 1e6)}"})  # fresh, in microseconds
    assert status == 200
    assert Case.select().count() == 1


@pytest.mark.parametrize("header", ["garbage", "t=", "t=nan", "t=-5", "t=1e400", "t=99999999999999999999"])
def test_unreadable_queue_header_is_ignored_never_a_500(sim: NodeSim, header: str) -> None:
    assert queue_age(header, time.time()) is None
    _body, raw = one_batch(sim)
    status, _resp = sim.post(raw, **{QUEUE_HEADER: header})
    assert status == 200


def test_queue_age_reads_seconds_milliseconds_and_microseconds() -> None:
    now = 1_800_000_000.0
    assert queue_age("t=1799999990.5", now) == pytest.approx(9.5)
    assert queue_age("1799999990500", now) == pytest.approx(9.5)
    assert queue_age("t=1799999990500000", now) == pytest.approx(9.5)
    assert queue_age("t=1800000005", now) == 0.0  # a proxy clock ahead of ours is no wait
    assert queue_age(None, now) is None


def test_refusal_is_signed_without_touching_the_database(sim: NodeSim, hub_app, monkeypatch) -> None:
    """Under a storm the refused requests must not each open a PostgreSQL connection (bench/storm.py)."""
    from hub.db import database

    gate = hub_app.extensions["daiban_admission"]
    _body, raw = one_batch(sim)
    touched: list[str] = []
    real = database.obj

    def connect(*args: object, **kwargs: object) -> None:
        touched.append("connect")
        raise AssertionError("a refused sync opened a database connection")

    def execute_sql(sql: str, *args: object, **kwargs: object) -> None:
        touched.append(sql)
        raise AssertionError(f"a refused sync ran SQL: {sql}")

    assert gate.free.acquire(blocking=False)
    try:
        monkeypatch.setattr(real, "connect", connect)
        monkeypatch.setattr(real, "execute_sql", execute_sql)
        refused(sim, raw)
        refused(sim, raw, **{QUEUE_HEADER: f"t={time.time() - 60:.3f}"})
        monkeypatch.undo()
    finally:
        gate.free.release()
    assert touched == []
    status, _resp = sim.post(raw)
    assert status == 200
    assert Case.select().count() == 1


def test_slot_is_freed_only_after_the_connection_is_closed(sim: NodeSim, hub_app, monkeypatch) -> None:
    from hub.db import database

    gate = hub_app.extensions["daiban_admission"]
    _body, raw = one_batch(sim)
    seen: list[bool] = []
    # The thread gives its connection back (kept or closed) in `checkin`, on either database.
    real_close = database.obj.checkin

    def close(*args: Any, **kwargs: Any) -> Any:
        seen.append(gate.free.acquire(blocking=False))  # the sync still holds its slot while it disconnects
        if seen[-1]:
            gate.free.release()
        return real_close(*args, **kwargs)

    monkeypatch.setattr(database.obj, "checkin", close)
    status, _resp = sim.post(raw)
    assert status == 200
    assert seen
    assert not any(seen)
    assert gate.free.acquire(blocking=False)  # and free again once the request is over
    gate.free.release()


def test_retry_after_names_the_work_ahead_between_one_second_and_the_cap() -> None:
    gate = Admission(slots=2, retry_after_s=15, max_queue_s=10.0)
    assert Admission(slots=2, retry_after_s=15, max_queue_s=10.0).wait_for(100.0)[0] == 1  # none measured: the floor
    for seconds in (30.0, 0.5, 0.5):  # a worker's slow first sync does not set the figure: the median does
        gate.held(seconds)
    told = [gate.wait_for(100.0)[0] for _ in range(100)]  # a hundred refusals in the same instant
    assert told[:4] == [1, 1, 1, 1]  # 0.5 s of work each, two slots: four fit in the first second
    assert told == sorted(told)  # each later refusal is told the work promised to those before it
    assert told[-1] == 15  # a storm is still spread over the full wait
    assert gate.wait_for(100.0 + 15.0)[0] == 1  # the promised work is done: short again


def test_retry_after_ms_spreads_a_burst_one_slot_turn_apart() -> None:
    """Whole seconds sent a whole burst back in the same second; milliseconds queue it behind the slots."""
    gate = Admission(slots=1, retry_after_s=15, max_queue_s=10.0)
    for _ in range(5):
        gate.held(0.08)  # a sync holds the slot 80 ms
    told = [gate.wait_for(200.0) for _ in range(45)]  # a burst refused in the same instant
    seconds = [s for s, _ms in told]
    millis = [ms for _s, ms in told]
    assert seconds[:12] == [1] * 12  # the whole-second word (older nodes, the header) is unchanged
    for k, ms in enumerate(millis, start=1):
        assert 80 * k <= ms < 80 * (k + 1) + 1  # the k-th refusal: k slot turns, plus part of one at random
    assert len(set(millis)) == 45


def test_retry_after_ms_at_the_cap_is_spread_over_half_of_it_and_stays_in_bounds() -> None:
    from shared import messages

    gate = Admission(slots=1, retry_after_s=15, max_queue_s=10.0)
    gate.held(2.0)
    told = [gate.wait_for(300.0) for _ in range(200)]  # a storm: the backlog reaches the cap
    capped = [ms for s, ms in told if s == 15][5:]
    assert capped
    assert all(15_000 <= ms <= 22_500 for ms in capped)
    assert max(capped) - min(capped) > 3_000  # not all back in the same instant
    wide = Admission(slots=1, retry_after_s=600, max_queue_s=10.0)  # a cap set far above the node's
    wide.held(60.0)
    assert all(messages.RETRY_AFTER_MS_MIN <= wide.wait_for(400.0)[1] <= messages.RETRY_AFTER_MS_MAX for _ in range(30))


def test_refusal_names_retry_after_ms_only_when_given(hub_app) -> None:
    gate = hub_app.extensions["daiban_admission"]
    with hub_app.test_request_context():
        plain = json.loads(gate.refusal(3).data)["body"]["error"]
        fine = json.loads(gate.refusal(1, 375).data)["body"]["error"]
    assert plain["retry_after"] == 3
    assert "retry_after_ms" not in plain
    assert fine["retry_after"] == 1
    assert fine["retry_after_ms"] == 375


# The hub's slots shared by its gunicorn workers: another process is another worker of the same hub.

HOLDER = """
import sys, time
from pathlib import Path
from hub.admission import Admission, HubSlots
path, slots, hold, refusals = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
free = HubSlots(path, slots)
assert all(free.acquire() for _ in range(hold))
gate = Admission(slots, 15, 10.0, [], free)
gate.held(1.0)
told = [gate.wait_for(time.monotonic())[0] for _ in range(refusals)]
print("held", told[-1] if told else 0, flush=True)
sys.stdin.read()  # holds its slots until killed, or until the test's end closes this pipe
"""


@pytest.fixture
def other_worker(tmp_path: Path) -> Iterator[Any]:
    """Start another process of the same hub that takes `hold` slots and refuses `refusals` syncs; kill -9 at the end."""
    started: list[subprocess.Popen] = []

    def start(path: Path, slots: int, hold: int, refusals: int = 0) -> tuple[subprocess.Popen, int]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), str(slots), str(hold), str(refusals)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().split()  # blocks until it holds its slots (or died: an empty line)
        assert line[:1] == ["held"], "the other worker did not take its slots"
        return proc, int(line[1])

    yield start
    for proc in started:
        proc.kill()
        proc.communicate()  # waits, and closes both pipes


def slots_path(hub_app) -> Path:
    return Path(hub_app.config["DATA_DIR"]) / SLOTS_FILE


@pytest.mark.parametrize("hub_settings", [{"SYNC_SLOTS": 1, "SYNC_MAX_IN_FLIGHT": 1}])
def test_a_worker_killed_holding_the_slot_does_not_leak_it(sim: NodeSim, hub_app, other_worker) -> None:
    gate = hub_app.extensions["daiban_admission"]
    assert isinstance(gate.free, HubSlots)
    _body, raw = one_batch(sim)
    before = snapshot()
    holder, _told = other_worker(slots_path(hub_app), 1, hold=1)
    error = refused(sim, raw)  # the hub's only slot is another worker's: this one refuses at once
    assert error["retry_after"] >= 1
    assert not gate.free.acquire()
    assert snapshot() == before
    holder.kill()  # kill -9 while it holds the slot: no teardown, no unlock
    holder.wait()
    status, resp = sim.post(raw)  # the kernel dropped the dead worker's lock: the slot is back
    assert status == 200
    assert resp["ack"]["accepted"] == 1
    assert Case.select().count() == 1


@pytest.mark.parametrize("hub_settings", [{"SYNC_SLOTS": 3, "SYNC_MAX_IN_FLIGHT": 2}])
def test_refused_only_when_every_slot_of_the_hub_is_busy(sim: NodeSim, hub_app, other_worker) -> None:
    """Two villages on the same worker are both admitted while the hub has slots, wherever those are."""
    gate = hub_app.extensions["daiban_admission"]
    assert gate.slots == 3
    _body, raw = one_batch(sim)
    assert gate.free.acquire()  # a sync of this same worker is running (a kept-alive connection landed here)
    try:
        other_worker(slots_path(hub_app), 3, hold=1)  # and one on another worker
        status, _resp = sim.post(raw)  # the third slot is free: admitted, not 429
        assert status == 200
        assert Case.select().count() == 1
        other_worker(slots_path(hub_app), 3, hold=1)  # a third worker takes the last one
        before = snapshot()
        refused(sim, raw)
        assert snapshot() == before
    finally:
        gate.free.release()


@pytest.mark.parametrize("hub_settings", [{"SYNC_SLOTS": 3, "SYNC_MAX_IN_FLIGHT": 1}])
def test_a_worker_keeps_threads_to_refuse_beyond_its_share(sim: NodeSim, hub_app, other_worker) -> None:
    """SYNC_MAX_IN_FLIGHT caps one worker's syncs below its threads, even with hub slots free."""
    gate = hub_app.extensions["daiban_admission"]
    _body, raw = one_batch(sim)
    assert gate.free.acquire()
    try:
        refused(sim, raw)
        other_worker(slots_path(hub_app), 3, hold=2)  # the other two slots were free for other workers
    finally:
        gate.free.release()
    status, _resp = sim.post(raw)  # the slot this worker gave back
    assert status == 200


def test_hub_slots_are_counted_across_processes_and_come_back(tmp_path: Path, other_worker) -> None:
    path = tmp_path / SLOTS_FILE
    slots = HubSlots(path, 4)
    holder, _told = other_worker(path, 4, hold=3)
    assert slots.acquire()  # the fourth
    assert not slots.acquire()
    slots.release()
    assert slots.acquire()
    holder.kill()
    holder.wait()
    assert [slots.acquire() for _ in range(4)] == [True, True, True, False]  # its three came back
    assert slots.held_here() == 4
    for _ in range(4):
        slots.release()
    with pytest.raises(ValueError):
        slots.release()  # more than it holds: a bug, as with a bounded semaphore
    with pytest.raises(ValueError):
        slots.acquire(blocking=True)  # admission never waits


def test_the_backlog_is_the_whole_hubs(tmp_path: Path, other_worker) -> None:
    """Refusals on one worker make the next worker's refusals wait behind them, not promise the same second."""
    path = tmp_path / SLOTS_FILE
    _holder, told_there = other_worker(path, 1, hold=1, refusals=40)  # 40 refusals of 1 s each, one slot
    assert told_there == 15
    here = Admission(1, 15, 10.0, [], HubSlots(path, 1))
    here.held(1.0)
    seconds, millis = here.wait_for(time.monotonic())
    assert seconds == 15  # behind the work promised by the other worker
    assert millis >= 15_000
    alone = Admission(1, 15, 10.0, [], LocalSlots(1))  # a process counting only its own backlog
    alone.held(1.0)
    assert alone.wait_for(time.monotonic())[0] == 1


def test_a_backlog_from_before_a_reboot_is_drained(tmp_path: Path) -> None:
    """Monotonic time starts again at boot: a stamp far ahead of now is old, not work still promised."""
    import struct

    path = tmp_path / SLOTS_FILE
    path.write_bytes(struct.pack("<dd", 75.0, time.monotonic() + 86_400.0))
    gate = Admission(5, 15, 10.0, [], HubSlots(path, 5))
    gate.held(0.1)
    assert gate.wait_for(time.monotonic())[0] == 1
