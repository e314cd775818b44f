"""The node's few periodic jobs (sync tick, daily backup, daily purge) on plain threads.

APScheduler (with asyncio, concurrent.futures and tzlocal under it) cost the idle node about
3 MB (docs/performance.md) for three interval jobs. This keeps the part of its interface the
node uses — ``add_job(func, "interval", …)``, ``modify_job(id, next_run_time=…)``, ``get_jobs``,
``start``, ``shutdown`` — so node.backup and node.purge schedule their jobs unchanged. As with
``coalesce=True, max_instances=1`` there, a job never runs twice at once and missed runs are
not caught up; each run has its own short thread, so a long backup never delays a sync tick.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

log = logging.getLogger("daiban.node.timer")


@dataclass
class Job:
    """One interval job."""

    id: str
    func: Callable[..., object]
    args: tuple[Any, ...]
    every: float
    next_at: float  # time.monotonic()
    running: threading.Lock = field(default_factory=threading.Lock)


def _monotonic_at(when: datetime) -> float:
    """The monotonic time of a wall-clock moment (naive local, as APScheduler callers pass it)."""
    return time.monotonic() + (when - datetime.now(when.tzinfo)).total_seconds()


class IntervalScheduler:
    """Runs interval jobs from one daemon thread, each run in a thread of its own."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add_job(
        self,
        func: Callable[..., object],
        trigger: str = "interval",
        *,
        id: str,  # APScheduler's name for it
        args: list[Any] | tuple[Any, ...] = (),
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        next_run_time: datetime | None = None,
        replace_existing: bool = False,
        coalesce: bool = True,
        max_instances: int = 1,
    ) -> Job:
        """Run func(*args) every interval, first at next_run_time (default: one interval from now)."""
        if trigger != "interval" or not coalesce or max_instances != 1:
            raise ValueError("only coalesced interval jobs with one instance are supported")
        every = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()
        if every <= 0:
            raise ValueError("interval must be positive")
        first = _monotonic_at(next_run_time) if next_run_time else time.monotonic() + every
        with self._lock:
            if id in self._jobs and not replace_existing:
                raise ValueError(f"job {id!r} already scheduled")
            job = self._jobs[id] = Job(id, func, tuple(args), every, first)
        self._wake.set()
        return job

    def modify_job(self, job_id: str, next_run_time: datetime) -> None:
        """Move a job's next run (KeyError when there is no such job)."""
        with self._lock:
            self._jobs[job_id].next_at = _monotonic_at(next_run_time)
        self._wake.set()

    def get_jobs(self) -> list[Job]:
        """The scheduled jobs."""
        with self._lock:
            return list(self._jobs.values())

    def start(self) -> None:
        """Start the timing thread (a daemon: it never keeps the process alive)."""
        self._thread = threading.Thread(target=self._loop, name="daiban-timer", daemon=True)
        self._thread.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop starting runs; with wait, also wait for the timing thread."""
        self._stopped.set()
        self._wake.set()
        if wait and self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            now = time.monotonic()
            with self._lock:
                due = [j for j in self._jobs.values() if j.next_at <= now]
                for job in due:
                    job.next_at = now + job.every  # missed runs are not caught up
                nearest = min((j.next_at for j in self._jobs.values()), default=now + 3600)
            for job in due:
                if job.running.acquire(blocking=False):  # the previous run is still going: skip this one
                    threading.Thread(target=self._run, args=(job,), name=f"daiban-{job.id}", daemon=True).start()
            self._wake.wait(max(0.0, nearest - time.monotonic()))
            self._wake.clear()

    @staticmethod
    def _run(job: Job) -> None:
        try:
            job.func(*job.args)
        except Exception:  # one failed run is logged; the job runs again next interval
            log.exception("scheduled job %s failed", job.id)
        finally:
            job.running.release()
