"""Background sync: one scheduler per process (node.timer), jittered exponential backoff, a kick after capture."""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable

from shared.messages import RETRY_AFTER_MS_MAX, RETRY_AFTER_MS_MIN

from .timer import IntervalScheduler

log = logging.getLogger("daiban.node.sync")

BASE_INTERVAL = 60.0
MIN_BACKOFF = 5.0
# Near 5 minutes: a village with nothing new to send must not wait half an hour after the link returns.
MAX_BACKOFF = 300.0
TICK = 2.0
# Jitter above the hub's word, as a fraction of it: half for whole seconds (``retry_after``, which a
# whole burst may share), a tenth for milliseconds (``retry_after_ms``, which the hub already spread).
COARSE_JITTER = 0.5
FINE_JITTER = 0.1

_lock = threading.Lock()
_scheduler: IntervalScheduler | None = None
_state: dict[str, Any] = {"next_try": 0.0, "failures": 0, "last_error": None}


def hub_wait(error: dict[str, Any]) -> tuple[float, float]:
    """The wait a signed ``rate_limited`` refusal asks for, in seconds, and the jitter to add above it.

    ``retry_after_ms`` when present and within its declared bounds (50 ms to 300 s; anything else,
    a string, a float, NaN, out of bounds, is ignored), jittered by a tenth; otherwise the
    whole-second ``retry_after`` (0 when absent or not a sane number), jittered by half.
    """
    millis = error.get("retry_after_ms")
    if type(millis) is int and RETRY_AFTER_MS_MIN <= millis <= RETRY_AFTER_MS_MAX:
        return min(millis / 1000, MAX_BACKOFF), FINE_JITTER
    value = error.get("retry_after")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:  # NaN is not > 0
        return 0.0, COARSE_JITTER
    # A hub asking for more than the backoff cap is waited for only up to the cap.
    return float(min(value, MAX_BACKOFF)), COARSE_JITTER


def hub_retry_after(error: dict[str, Any]) -> float:
    """The wait a signed ``rate_limited`` refusal asks for, in seconds (``hub_wait`` without the jitter)."""
    return hub_wait(error)[0]


def backoff_delay(
    failures: int, rng: random.Random | None = None, retry_after: float = 0.0, jitter: float = COARSE_JITTER
) -> float:
    """Seconds to wait after `failures` consecutive failures: doubling, capped, with jitter.

    When the hub answered 429 with ``retry_after``, the hub's word replaces the doubling: at
    least that long (never under 50 ms, up to MAX_BACKOFF), jittered above it by up to ``jitter``
    of it (half for whole seconds, so the refused villages do not all come back in the same second;
    a tenth for the hub's milliseconds, already spread: ``hub_wait``). Doubling on top of it left
    the hub's free slots idle while refused villages slept minutes (docs/performance.md, "Sync
    storm").
    """
    rng = rng or random.Random()
    floor = min(max(0.0, retry_after), MAX_BACKOFF)
    if floor > 0:
        floor = max(floor, RETRY_AFTER_MS_MIN / 1000)
        share = min(max(0.0, jitter), COARSE_JITTER)
        return floor + rng.random() * min(floor * share, MAX_BACKOFF - floor)
    cap = min(MAX_BACKOFF, MIN_BACKOFF * (2 ** max(0, failures - 1)))
    return cap / 2 + rng.random() * cap / 2


def wait_after(failures: int, exc: BaseException) -> float:
    """backoff_delay for a failed round: the hub's wait and its jitter when the error carries them
    (a BusyError), the plain doubling otherwise. The village's scheduler and a township's county
    link both wait this."""
    return backoff_delay(
        failures, retry_after=getattr(exc, "retry_after", 0.0), jitter=getattr(exc, "jitter", COARSE_JITTER)
    )


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
        _state["next_try"] = time.monotonic() + wait_after(_state["failures"], exc)
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
