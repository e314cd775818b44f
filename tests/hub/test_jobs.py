"""The hub's one scheduler: job settings, the one-shot sweep command, and the foreground scheduler process."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from hub.jobs import daily_figures_job, sweep_job
from hub.scheduler import build
from hub.models import Setting
from tests import support


def test_jobs_never_stack_and_missed_runs_coalesce(hub_app) -> None:
    hub_app.config["SCHEDULER_SWEEP_SECONDS"] = 300
    sched = build(hub_app)
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == {"heartbeat", "sweep_deadlines", "daily_figures", "nightly_backup", "send_sms", "county_sync"}
    for job in jobs.values():
        assert job.coalesce is True
        assert job.max_instances == 1
    assert jobs["sweep_deadlines"].trigger.interval.total_seconds() == 300


def test_jobs_open_their_own_connection(hub_app) -> None:
    from hub.db import database

    database.close()
    counts = sweep_job()
    assert counts["checked"] == 0
    assert database.is_closed()
    fig = daily_figures_job()
    assert fig["handled"] == 0
    assert database.is_closed()
    with database.connection_context():
        assert Setting.get_or_none(Setting.key == "last_sweep") is not None
        assert Setting.select().where(Setting.key.startswith("figures:")).count() == 1


def _last_sweep(db: Path) -> dict | None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM setting WHERE key = 'last_sweep'").fetchone()
    return json.loads(row[0]) if row else None


def test_sweep_command_and_scheduler_process(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path)
    out = hub.cli("sweep").stdout
    assert "期限巡检：检查 0 件" in out
    db = hub.data_dir / "hub.sqlite3"
    assert _last_sweep(db) is not None
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM setting WHERE key = 'last_sweep'")
    log = open(hub.data_dir / "scheduler.log", "wb")
    proc = subprocess.Popen(
        [*support.DAIBAN, "hub", "--dir", str(hub.data_dir), "scheduler", "--sweep-minutes", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=support.ROOT,
    )
    log.close()  # the child holds its own descriptor
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _last_sweep(db) is not None or proc.poll() is not None:
                break
            time.sleep(0.2)
        assert proc.poll() is None, (hub.data_dir / "scheduler.log").read_text()
        assert _last_sweep(db) is not None  # the scheduler swept at start, without waiting an interval
    finally:
        proc.terminate()
        proc.wait(10)


def test_sigterm_while_a_job_is_handed_to_its_thread_still_stops_the_scheduler(hub_app, monkeypatch) -> None:
    """systemctl stop sends SIGTERM once. It must stop the scheduler wherever it lands: APScheduler
    catches BaseException around handing a job to its thread, so a stop raised there was logged and
    ignored (CI saw a scheduler outlive SIGTERM by 15 s)."""
    import os
    import signal
    import threading

    from apscheduler.executors.pool import ThreadPoolExecutor

    from hub import scheduler

    sent = threading.Event()
    real_submit = ThreadPoolExecutor.submit_job

    def submit_then_sigterm(self, job, run_times):
        real_submit(self, job, run_times)
        if not sent.is_set():
            sent.set()
            os.kill(os.getpid(), signal.SIGTERM)  # as the job is handed over, the first time only

    built: list = []

    def build_and_keep(app, lease=None):
        built.append(real_build(app, lease))
        return built[-1]

    real_build = scheduler.build
    monkeypatch.setattr(ThreadPoolExecutor, "submit_job", submit_then_sigterm)
    monkeypatch.setattr(scheduler, "build", build_and_keep)
    # Bounds the old behaviour (running on after the stop) instead of hanging the suite.
    rescued = threading.Event()

    def rescue() -> None:
        rescued.set()
        built[0].shutdown(wait=False)

    watchdog = threading.Timer(20, rescue)
    watchdog.start()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        scheduler.run(hub_app)
    finally:
        watchdog.cancel()
    assert sent.is_set()
    assert not rescued.is_set(), "the scheduler ran on after SIGTERM"
    assert not built[0].running
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is the process's again
