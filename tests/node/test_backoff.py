"""The node's one wait rule after a failed round: jittered backoff, never shorter than the hub's Retry-After."""

from __future__ import annotations

import random

import pytest

from node.scheduler import MAX_BACKOFF, backoff_delay, hub_retry_after


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
