"""Background sync: one scheduler per process (node.timer), jittered exponential backoff, a kick after capture."""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable

from .timer import IntervalScheduler

log = logging.getLogger("daiban.node.sync")

BASE_INTERVAL = 60.0
MIN_BACKOFF = 5.0
# Near 5 minutes: a village with nothing new to send must not wait half an hour after the link returns.
MAX_BACKOFF = 300.0
TICK = 2.0

_lock = threading.Lock()
_scheduler: IntervalScheduler | None = None
_state: dict[str, Any] = {"next_try": 0.0, "failures": 0, "last_error": None}


def hub_retry_after(error: dict[str, Any]) -> float:
    """The wait a signed ``rate_limited`` refusal asks for, in seconds; 0 when absent or not a sane number."""
    value = error.get("retry_after")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:  # NaN is not > 0
        return 0.0
    # A hub asking for more than the backoff cap is waited for only up to the cap.
    return float(min(value, MAX_BACKOFF))


def backoff_delay(failures: int, rng: random.Random | None = None, retry_after: float = 0.0) -> float:
    """Seconds to wait after `failures` consecutive failures: doubling, capped, with jitter.

    When the hub answered 429 with ``retry_after``, the hub's word replaces the doubling: at
    least that long (up to MAX_BACKOFF), jittered above it by up to half so the refused villages
    do not all come back in the same second. Doubling on top of it left the hub's free slots idle
    while refused villages slept minutes (docs/performance.md, "Sync storm").
    """
    rng = rng or random.Random()
    floor = min(max(0.0, retry_after), MAX_BACKOFF)
    if floor > 0:
        return floor + rng.random() * min(floor / 2, MAX_BACKOFF - floor)
    cap = min(MAX_BACKOFF, MIN_BACKOFF * (2 ** max(0, failures - 1)))
    return cap / 2 + rng.random() * cap / 2


def next_try_in() -> float:
    """Seconds until the next planned attempt (for the sync panel)."""
    return max(0.0, _state["next_try"] - time.monotonic())


def kick() -> None:
    """Ask for a sync attempt now (after a capture); harmless when no scheduler runs."""
    _state["next_try"] = 0.0
    sched = _scheduler
    if sched is not None:
        try:
            sched.modify_job("sync", next_run_time=__import__("datetime").datetime.now())
        except KeyError:  # no sync job (a scheduler that only runs backups)
            pass


def _tick(run_round: Callable[[], object]) -> None:
    if time.monotonic() < _state["next_try"]:
        return
    try:
        run_round()
    except Exception as exc:  # noqa: BLE001 - every failure is recorded; the clerk sees it on the panel
        _state["failures"] += 1
        _state["last_error"] = str(exc)
        _state["next_try"] = time.monotonic() + backoff_delay(
            _state["failures"], retry_after=getattr(exc, "retry_after", 0.0)
        )
        log.warning("sync failed (%s), next try in %.0fs", exc, next_try_in())
        return
    _state["failures"] = 0
    _state["last_error"] = None
    _state["next_try"] = time.monotonic() + BASE_INTERVAL


def start(run_round: Callable[[], object]) -> IntervalScheduler:
    """Start the single background scheduler of this process (a second call returns the first)."""
    global _scheduler
    with _lock:
        if _scheduler is None:
            sched = IntervalScheduler()
            sched.add_job(_tick, "interval", seconds=TICK, args=[run_round], id="sync", coalesce=True, max_instances=1)
            sched.start()
            _scheduler = sched
        return _scheduler


def stop() -> None:
    """Stop the scheduler (tests, shutdown)."""
    global _scheduler
    with _lock:
        if _scheduler is not None:
            _scheduler.shutdown(wait=False)
            _scheduler = None
