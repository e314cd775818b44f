"""The node's one wait rule after a failed round: jittered backoff, never shorter than the hub's Retry-After."""

from __future__ import annotations

import random

import pytest

from node.scheduler import COARSE_JITTER, FINE_JITTER, MAX_BACKOFF, backoff_delay, hub_retry_after, hub_wait


@pytest.mark.parametrize("failures", [1, 2, 5, 20])
@pytest.mark.parametrize("retry_after", [1.0, 15.0, 120.0, 299.0])
def test_wait_is_at_least_retry_after_and_capped(failures: int, retry_after: float) -> None:
    waits = [backoff_delay(failures, random.Random(seed), retry_after) for seed in range(200)]
    assert min(waits) >= retry_after
    assert max(waits) <= MAX_BACKOFF


@pytest.mark.parametrize("failures", [1, 8])
def test_wait_after_retry_after_is_jittered_and_does_not_double(failures: int) -> None:
    # The hub's word replaces the doubling: a village refused eight times still comes back in 15–22.5 s.
    waits = {round(backoff_delay(failures, random.Random(seed), 15.0), 3) for seed in range(50)}
    assert len(waits) > 40
    assert max(waits) <= 22.5


def test_without_retry_after_the_own_backoff_holds() -> None:
    assert backoff_delay(3, random.Random(7)) == backoff_delay(3, random.Random(7), 0.0)
    assert 10.0 <= backoff_delay(3, random.Random(7)) <= 20.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (15, 15.0),
        (2.5, 2.5),
        (10_000, MAX_BACKOFF),
        (float("inf"), MAX_BACKOFF),
        (None, 0.0),
        ("15", 0.0),
        (True, 0.0),
        (-3, 0.0),
        (float("nan"), 0.0),
    ],
)
def test_hub_retry_after_reads_only_sane_numbers(value: object, seconds: float) -> None:
    assert hub_retry_after({"code": "rate_limited", "retry_after": value}) == seconds


@pytest.mark.parametrize(
    ("error", "seconds", "jitter"),
    [
        ({"retry_after": 1, "retry_after_ms": 375}, 0.375, FINE_JITTER),  # the finer word wins
        ({"retry_after": 1, "retry_after_ms": 50}, 0.05, FINE_JITTER),
        ({"retry_after": 15, "retry_after_ms": 300_000}, MAX_BACKOFF, FINE_JITTER),
        ({"retry_after": 1}, 1.0, COARSE_JITTER),  # an older hub: whole seconds, jittered by half
        # out of its declared bounds or not an integer: ignored, the whole seconds hold
        ({"retry_after": 2, "retry_after_ms": 49}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": 0}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": -5}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": 300_001}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": 10**30}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": "375"}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": 375.0}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": float("nan")}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": True}, 2.0, COARSE_JITTER),
        ({"retry_after": 2, "retry_after_ms": None}, 2.0, COARSE_JITTER),
        ({"retry_after_ms": [375]}, 0.0, COARSE_JITTER),
    ],
)
def test_hub_wait_reads_milliseconds_within_bounds_else_whole_seconds(
    error: dict, seconds: float, jitter: float
) -> None:
    assert hub_wait({"code": "rate_limited", **error}) == (seconds, jitter)
    assert hub_retry_after({"code": "rate_limited", **error}) == seconds


def test_milliseconds_are_waited_with_a_small_jitter_never_under_50_ms() -> None:
    waits = [
        backoff_delay(1, random.Random(seed), *hub_wait({"retry_after": 1, "retry_after_ms": 240}))
        for seed in range(200)
    ]
    assert min(waits) >= 0.24
    assert max(waits) <= 0.24 * 1.1
    assert len({round(w, 6) for w in waits}) > 150
    assert min(backoff_delay(1, random.Random(seed), 0.001, FINE_JITTER) for seed in range(50)) >= 0.05
    # whole seconds keep their jitter of up to half
    coarse = [backoff_delay(1, random.Random(seed), *hub_wait({"retry_after": 1})) for seed in range(200)]
    assert min(coarse) >= 1.0
    assert max(coarse) > 1.3
    assert max(coarse) <= 1.5
