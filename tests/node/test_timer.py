"""node.timer: the node's interval jobs (sync tick, backup, purge) without APScheduler."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from node.timer import IntervalScheduler

WAIT = 30.0  # generous upper bound on a shared machine; the tests wait on events, never on the clock


def test_a_job_runs_when_due_and_again_when_moved_to_now() -> None:
    sched = IntervalScheduler()
    runs: list[str] = []
    ran = threading.Event()

    def job(name: str) -> None:
        runs.append(name)
        ran.set()

    sched.add_job(job, "interval", days=1, args=["backup"], id="backup", next_run_time=datetime.now())
    sched.start()
    try:
        assert ran.wait(WAIT)
        ran.clear()
        sched.modify_job("backup", next_run_time=datetime.now())
        assert ran.wait(WAIT)
    finally:
        sched.shutdown()
    assert runs == ["backup", "backup"]


def test_a_failed_run_is_logged_and_the_job_stays_scheduled() -> None:
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]  # a handler that keeps what it is given
    logger = logging.getLogger("daiban.node.timer")
    logger.addHandler(handler)  # on the logger itself: other tests may have changed propagation
    sched = IntervalScheduler()
    calls: list[int] = []
    second = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        second.set()

    job = sched.add_job(flaky, "interval", days=1, id="purge", next_run_time=datetime.now())
    sched.start()
    try:
        pause = threading.Event()
        for _ in range(int(WAIT * 20)):  # until the first run has failed and finished
            if calls and not job.running.locked():
                break
            pause.wait(0.05)
        assert calls
        sched.modify_job("purge", next_run_time=datetime.now())
        assert second.wait(WAIT)
    finally:
        sched.shutdown()
        logger.removeHandler(handler)
    assert any("scheduled job purge failed" in r.getMessage() for r in records)


def test_a_job_still_running_is_not_started_twice() -> None:
    sched = IntervalScheduler()
    started = threading.Event()
    release = threading.Event()
    count = []

    def slow() -> None:
        count.append(1)
        started.set()
        release.wait(WAIT)

    sched.add_job(slow, "interval", seconds=3600, id="sync", next_run_time=datetime.now())
    sched.start()
    try:
        assert started.wait(WAIT)
        seen = threading.Event()
        # Two more due times while the first run holds on: both are skipped, not queued.
        for _ in range(2):
            sched.modify_job("sync", next_run_time=datetime.now() - timedelta(seconds=1))
            seen.wait(0.2)
        assert count == [1]
    finally:
        release.set()
        sched.shutdown()


def test_scheduling_the_same_job_again_replaces_it_only_when_asked() -> None:
    sched = IntervalScheduler()
    sched.add_job(print, "interval", days=1, id="backup", replace_existing=True)
    sched.add_job(print, "interval", days=1, id="backup", replace_existing=True)
    assert [j.id for j in sched.get_jobs()] == ["backup"]
    with pytest.raises(ValueError):
        sched.add_job(print, "interval", days=1, id="backup")
    with pytest.raises(ValueError):
        sched.add_job(print, "cron", id="other")
    with pytest.raises(KeyError):
        sched.modify_job("missing", next_run_time=datetime.now())


def test_the_node_jobs_schedule_on_it(node_app) -> None:
    from node import backup, purge

    sched = IntervalScheduler()  # not started: nothing fires during the test
    backup.schedule(sched, node_app.config["DATA_DIR"], keep=3)
    purge.schedule(sched)
    backup.schedule(sched, node_app.config["DATA_DIR"], keep=3)
    assert sorted(j.id for j in sched.get_jobs()) == ["backup", "purge"]
