"""`daiban hub scheduler`: the one process that runs the hub's jobs, never a gunicorn worker.

On SQLite a file lock next to the database keeps a second scheduler out. On PostgreSQL the
hub may run on several machines and its server may fail over to a standby, where a
session-level advisory lock would vanish with the old primary's connection. So the holder
is a lease row in the database itself (holder id, expiry by the database's clock): it
replicates with the data, the holder renews it, and every job run first renews it and is
skipped when that fails. After a failover the holder renews on the promoted server and
carries on; a standby scheduler (`--standby`) takes over only once the lease has expired.
A second scheduler started by mistake without `--standby` finds the lease held and exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import signal
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import peewee
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from . import jobs, sms
from .county.uplink import sync_job as county_sync_job
from .clock import CHINA_TZ
from .db import database, is_postgres

log = logging.getLogger("daiban.hub.scheduler")

LEASE_KEY = "scheduler_lease"
LEASE_SECONDS = 30  # a dead holder's jobs wait at most this long for a standby to take over

# job name -> (function, config key for its interval in seconds, default interval)
JOBS = {
    "heartbeat": (jobs.heartbeat, "SCHEDULER_HEARTBEAT_SECONDS", 60),
    "sweep_deadlines": (jobs.sweep_job, "SCHEDULER_SWEEP_SECONDS", 900),
    "send_sms": (sms.deliver_job, "SCHEDULER_SMS_SECONDS", 60),
    # A township enrolled with a county sends what it passed up and records the answers (hub/county/uplink).
    "county_sync": (county_sync_job, "SCHEDULER_COUNTY_SECONDS", 60),
}
BACKUP_HOUR = 2  # nightly backup at 02:00 server time, when no clerk is working
FIGURES_HOUR = 1  # yesterday's figures at 01:05 Beijing time


class AlreadyRunning(RuntimeError):
    """Another scheduler holds the lock."""


class Lease:
    """The scheduler lease row (PostgreSQL): who may run jobs, until when by the database's clock."""

    def __init__(self, seconds: float = LEASE_SECONDS, holder: str | None = None):
        self.seconds = seconds
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self.lost = False  # set when another scheduler took the lease over
        self.released = False  # set once given up: no renewal may take the lease back after it

    def renew(self) -> bool:
        """Take or extend the lease; True only if this process holds it now.

        One statement, so two schedulers racing for an expired lease cannot both win, and a
        lost database connection (failover) is simply a False until the next try.
        """
        with self._lock:
            if self.released:
                return False
            try:
                with database.connection_context():
                    row = database.execute_sql(
                        "INSERT INTO setting (key, value) VALUES (%s, json_build_object("
                        "'holder', %s::text, 'until', now() + make_interval(secs => %s))::text) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value "
                        "WHERE setting.value::json->>'holder' = %s "
                        "OR (setting.value::json->>'until')::timestamptz < now() RETURNING 1",
                        (LEASE_KEY, self.holder, float(self.seconds), self.holder),
                    ).fetchone()
            except peewee.DatabaseError as exc:
                log.warning("scheduler lease not renewed (database unreachable): %s", str(exc).strip()[:200])
                return False
            return row is not None

    def holder_now(self) -> str | None:
        """Who holds an unexpired lease, if anyone."""
        with database.connection_context():
            row = database.execute_sql(
                "SELECT value::json->>'holder' FROM setting WHERE key = %s "
                "AND (value::json->>'until')::timestamptz >= now()",
                (LEASE_KEY,),
            ).fetchone()
        return None if row is None else str(row[0])

    def release(self) -> None:
        """Give the lease up at a clean stop, so a standby need not wait for it to expire.

        Under the renewal lock, and for good: the lease job may still be running in the scheduler's
        thread pool at SIGTERM, and a renewal landing after the DELETE would hold the lease again.
        """
        with self._lock:
            self.released = True
            try:
                with database.connection_context():
                    gone = database.execute_sql(
                        "DELETE FROM setting WHERE key = %s AND value::json->>'holder' = %s RETURNING 1",
                        (LEASE_KEY, self.holder),
                    ).fetchone()
            except peewee.DatabaseError:
                log.warning("scheduler lease not released; it expires by itself")
                return
            # Not the holder: nothing was given up, and this process may still take the lease later.
            self.released = gone is not None


def acquire_lock(data_dir: str, *, standby: bool = False, lease_seconds: float = LEASE_SECONDS) -> Any:
    """Take the single-scheduler lock for this hub's database; keep the returned handle open.

    On PostgreSQL the handle is a Lease; with standby=True wait for it instead of giving up.
    """
    if is_postgres():
        lease = Lease(lease_seconds)
        while not lease.renew():
            if not standby:
                holder = lease.holder_now()  # raises when the database cannot be reached at all
                raise AlreadyRunning(f"另一个调度进程正在运行（调度租约由 {holder} 持有），本进程退出")
            time.sleep(lease_seconds / 3)
        return lease
    fh: IO[str] = open(Path(data_dir) / "scheduler.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise AlreadyRunning("另一个调度进程正在运行（scheduler.lock 已被占用），本进程退出") from exc
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def build(app: Flask, lease: Lease | None = None) -> BackgroundScheduler:
    """The scheduler with every hub job, each run inside the app context and recorded.

    With a lease, every run first renews it: a process that lost it (another scheduler took
    over while this one could not reach the database) runs nothing more and stops.
    """
    sched = BackgroundScheduler(timezone=CHINA_TZ, job_defaults=jobs.JOB_DEFAULTS)

    def wrap(name: str, fn: Any) -> Any:
        def run() -> None:
            if lease is not None and not _still_holder(lease):
                log.warning("job %s skipped: this scheduler does not hold the lease", name)
                return
            with app.app_context():
                jobs.run_recorded(name, fn)

        return run

    if lease is not None:
        sched.add_job(
            lambda: _still_holder(lease),
            "interval",
            seconds=max(1.0, lease.seconds / 3),
            id="lease",
            **jobs.JOB_DEFAULTS,
        )

    for name, (fn, key, default) in JOBS.items():
        seconds = float(app.config.get(key) or default)
        # First run at once: after a restart the colours should not wait a whole interval.
        sched.add_job(
            wrap(name, fn),
            "interval",
            seconds=seconds,
            id=name,
            next_run_time=datetime.now(CHINA_TZ),
            **jobs.JOB_DEFAULTS,
        )
    sched.add_job(
        wrap("daily_figures", jobs.daily_figures_job),
        "cron",
        hour=int(app.config.get("SCHEDULER_FIGURES_HOUR", FIGURES_HOUR)),
        minute=5,
        id="daily_figures",
        **jobs.JOB_DEFAULTS,
    )
    if app.config.get("BACKUP_KEEP", 14):
        sched.add_job(
            wrap("nightly_backup", jobs.nightly_backup),
            "cron",
            hour=BACKUP_HOUR,
            id="nightly_backup",
            **jobs.JOB_DEFAULTS,
        )
    return sched


class LeaseLost(RuntimeError):
    """Another scheduler holds the lease now; this one must not run jobs any more."""


def _still_holder(lease: Lease) -> bool:
    """Renew the lease; if another scheduler took it, mark it lost: the main thread then stops this
    scheduler (`_run_once`), and a standby waits again."""
    if lease.renew():
        return True
    try:
        other = lease.holder_now()
    except peewee.DatabaseError:
        return False  # the database is away (failover): run nothing, try again next tick
    if other is not None and other != lease.holder:
        if not lease.lost:
            log.error("scheduler lease taken by %s; this scheduler stops", other)
        lease.lost = True
    return False


class _StopRequest:
    """SIGTERM's handler (systemctl stop): it only records the request, and the main thread, waiting
    in `_run_once`, stops the jobs. An exception raised from the handler could land inside
    APScheduler, which catches BaseException around handing a job to its thread and would log a
    stop and carry on (CI saw a scheduler ignore SIGTERM so)."""

    def __init__(self) -> None:
        self.received = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.received = True


STOP_POLL_SECONDS = 0.5  # how soon the main thread notices a stop request or a lost lease


def run(app: Flask, *, standby: bool = False) -> None:
    """Hold the lock (or lease) and run the jobs until stopped (SIGTERM from systemd).

    A standby that held the lease and lost it (it could not reach the database while another
    scheduler took over) goes back to waiting; a plain scheduler stops with LeaseLost.
    """
    while _run_once(app, standby):
        if not standby:
            raise LeaseLost("调度租约已被另一个调度进程接管，本进程停止")
        log.warning("scheduler lease lost; waiting as standby again")


def _run_once(app: Flask, standby: bool) -> bool:
    """Run the jobs while the lock or lease is held; True when the lease was lost to another scheduler."""
    seconds = float(app.config.get("SCHEDULER_LEASE_SECONDS") or LEASE_SECONDS)
    lock = acquire_lock(app.config["DATA_DIR"], standby=standby, lease_seconds=seconds)
    lease = lock if isinstance(lock, Lease) else None
    sched = build(app, lease)
    log.info(
        "scheduler started pid=%s jobs=%s holder=%s",
        os.getpid(),
        ",".join(j.id for j in sched.get_jobs()),
        lease.holder if lease else "file lock",
    )
    # The jobs run in the scheduler's own threads; this one waits for SIGTERM (systemctl stop) or
    # the lease's loss, then stops them, and gives the lease back at once on a clean stop.
    stop = _StopRequest()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        sched.start()
        while not stop.received and not (lease is not None and lease.lost):
            time.sleep(STOP_POLL_SECONDS)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if sched.running:
            sched.shutdown(wait=False)
        if lease is not None:
            if not lease.lost:
                lease.release()
        else:
            lock.close()
    return lease is not None and lease.lost
