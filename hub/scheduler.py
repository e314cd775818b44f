"""`daiban hub scheduler`: the one process that runs the hub's jobs, never a gunicorn worker.

A second scheduler started by mistake finds the lock taken (a PostgreSQL advisory lock, or
a file lock next to a SQLite database) and exits, so every job runs once per tick.
"""

from __future__ import annotations

import fcntl
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from . import jobs, sms
from .clock import CHINA_TZ
from .db import database, is_postgres

log = logging.getLogger("daiban.hub.scheduler")

SCHEDULER_LOCK_ID = 0x0DA1BB

# job name -> (function, config key for its interval in seconds, default interval)
JOBS = {
    "heartbeat": (jobs.heartbeat, "SCHEDULER_HEARTBEAT_SECONDS", 60),
    "sweep_deadlines": (jobs.sweep_job, "SCHEDULER_SWEEP_SECONDS", 900),
    "send_sms": (sms.deliver_job, "SCHEDULER_SMS_SECONDS", 60),
}
BACKUP_HOUR = 2  # nightly backup at 02:00 server time, when no clerk is working
FIGURES_HOUR = 1  # yesterday's figures at 01:05 Beijing time


class AlreadyRunning(RuntimeError):
    """Another scheduler holds the lock."""


def acquire_lock(data_dir: str) -> Any:
    """Take the single-scheduler lock for this hub's database; keep the returned handle open."""
    if is_postgres():
        database.connect(reuse_if_open=True)
        got = database.execute_sql("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK_ID,)).fetchone()[0]
        if not got:
            raise AlreadyRunning("另一个调度进程正在运行（PostgreSQL 锁已被占用），本进程退出")
        return database
    fh: IO[str] = open(Path(data_dir) / "scheduler.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise AlreadyRunning("另一个调度进程正在运行（scheduler.lock 已被占用），本进程退出") from exc
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def build(app: Flask) -> BlockingScheduler:
    """The scheduler with every hub job, each run inside the app context and recorded."""
    sched = BlockingScheduler(timezone=CHINA_TZ, job_defaults=jobs.JOB_DEFAULTS)

    def wrap(name: str, fn: Any) -> Any:
        def run() -> None:
            with app.app_context():
                jobs.run_recorded(name, fn)

        return run

    for name, (fn, key, default) in JOBS.items():
        seconds = float(app.config.get(key) or default)
        # First run at once: after a restart the colours should not wait a whole interval.
        sched.add_job(wrap(name, fn), "interval", seconds=seconds, id=name, next_run_time=datetime.now(CHINA_TZ),
                      **jobs.JOB_DEFAULTS)
    sched.add_job(wrap("daily_figures", jobs.daily_figures_job), "cron",
                  hour=int(app.config.get("SCHEDULER_FIGURES_HOUR", FIGURES_HOUR)), minute=5, id="daily_figures",
                  **jobs.JOB_DEFAULTS)
    if app.config.get("BACKUP_KEEP", 14):
        sched.add_job(wrap("nightly_backup", jobs.nightly_backup), "cron", hour=BACKUP_HOUR, id="nightly_backup",
                      **jobs.JOB_DEFAULTS)
    return sched


def run(app: Flask) -> None:
    """Hold the lock and run the jobs until stopped (SIGTERM from systemd)."""
    lock = acquire_lock(app.config["DATA_DIR"])
    sched = build(app)
    log.info("scheduler started pid=%s jobs=%s", os.getpid(), ",".join(j.id for j in sched.get_jobs()))
    try:
        sched.start()
    finally:
        if lock is not database:
            lock.close()
