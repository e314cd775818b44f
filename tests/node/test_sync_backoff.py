"""Sync backoff: capped near 5 minutes with jitter; capturing or opening the sync page tries at once."""

from __future__ import annotations

import random

from node import scheduler


def test_backoff_is_capped_near_five_minutes_and_jittered() -> None:
    rng = random.Random(7)
    waits = [scheduler.backoff_delay(n, rng) for n in range(1, 40)]
    assert max(waits) <= 300
    assert min(waits[10:]) >= 150
    assert len({round(w) for w in waits[10:]}) > 5  # jittered, not one fixed value
    assert waits[0] <= scheduler.MIN_BACKOFF


def test_failure_then_kick_from_the_sync_page_tries_at_once(clerk) -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise RuntimeError("link down")

    scheduler._state.update(next_try=0.0, failures=12)
    scheduler._tick(failing)
    assert 150 <= scheduler.next_try_in() <= 300
    scheduler._tick(failing)
    assert len(calls) == 1
    clerk.client.get("/sync")  # the clerk opens the sync page
    assert scheduler.next_try_in() == 0
    scheduler._tick(failing)
    assert len(calls) == 2
    scheduler._state.update(next_try=0.0, failures=0, last_error=None)
