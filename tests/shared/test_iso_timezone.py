"""Stored times are naive UTC: their ISO text must not depend on the server's time zone."""

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from hub.ingest import downstream_entry
from shared import protocol


@pytest.fixture
def beijing_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process runs as a server set to China's local time would (TZ=Asia/Shanghai)."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


STORED = datetime(2026, 11, 30, 12, 0, 5, 123456)  # naive UTC, as the databases hold it


def test_naive_time_is_read_as_utc(beijing_server: None) -> None:
    assert protocol.iso(STORED) == "2026-11-30T12:00:05.123456Z"
    assert protocol.event_time(STORED) == "2026-11-30T12:00:05Z"


def test_aware_time_is_converted(beijing_server: None) -> None:
    in_beijing = STORED.replace(tzinfo=timezone.utc).astimezone(timezone(timedelta(hours=8)))
    assert protocol.iso(in_beijing) == "2026-11-30T12:00:05.123456Z"
    assert protocol.parse_iso(protocol.iso(in_beijing)) == STORED.replace(tzinfo=timezone.utc)


def test_hub_update_stamped_with_the_stored_time(beijing_server: None) -> None:
    entry = downstream_entry(7, "status", "r1", STORED, {"status": "accepted"})
    assert entry["at"] == "2026-11-30T12:00:05.123456Z"
