"""One rule for times on every page: Beijing time to the minute, whatever form the time was stored in."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from shared.china_time import beijing_time, sort_key


def test_naive_utc_aware_and_iso_text_all_read_as_beijing_time() -> None:
    naive = datetime(2026, 11, 30, 17, 5)  # the hub stores naive UTC
    assert beijing_time(naive) == "2026-12-01 01:05"
    assert beijing_time(naive.replace(tzinfo=timezone.utc)) == "2026-12-01 01:05"
    assert beijing_time("2026-11-30T17:05:00Z") == "2026-12-01 01:05"  # the node and the wire
    assert beijing_time("2026-11-30T17:05:00.123456+00:00") == "2026-12-01 01:05"
    assert beijing_time(datetime(2026, 12, 1, 1, 5, tzinfo=timezone(timedelta(hours=8)))) == "2026-12-01 01:05"


def test_label_date_only_and_what_is_not_a_time() -> None:
    assert beijing_time(datetime(2026, 11, 30, 2, 0), labelled=True) == "2026-11-30 10:00（北京时间）"
    assert beijing_time(datetime(2026, 11, 30, 17, 0), date_only=True) == "2026-12-01"
    assert beijing_time(date(2026, 11, 30)) == "2026-11-30"
    assert beijing_time(None) == ""
    assert beijing_time("") == ""
    assert beijing_time("昨天下午") == "昨天下午"


def test_times_of_different_forms_sort_by_the_moment_not_the_text() -> None:
    times = ["2026-11-30T10:00:00.5+00:00", datetime(2026, 11, 30, 9, 59), "2026-11-30T10:00:00Z", "坏值"]
    assert sorted(times, key=sort_key) == [
        "坏值",
        datetime(2026, 11, 30, 9, 59),
        "2026-11-30T10:00:00Z",
        "2026-11-30T10:00:00.5+00:00",
    ]
