"""Stored times are naive UTC: their ISO text must not depend on the server's time zone."""

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _iso_before(ts: datetime) -> str:
    # protocol.iso as it was before naive times took the quick way.
    return (ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
    | st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones())
)
def test_iso_text_is_what_it_was_for_every_time(ts: datetime) -> None:
    assert protocol.iso(ts) == _iso_before(ts)


@pytest.mark.parametrize("ts", [datetime(999, 12, 31, 23, 59, 59), datetime(1000, 1, 1), datetime(2026, 1, 1, 0, 0)])
def test_iso_at_the_quick_way_s_edges(ts: datetime) -> None:
    assert protocol.iso(ts) == _iso_before(ts)
