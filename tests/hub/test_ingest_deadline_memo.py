"""Ingest's due dates, kept for the process by the township's extra days, are the calendar's own."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.ingest import MemoCalendar
from shared.workdays import WorkCalendar

DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@settings(max_examples=200, deadline=None)
@given(start=DAYS, n=st.integers(0, 60), holidays=st.sets(DAYS, max_size=4), workdays=st.sets(DAYS, max_size=4))
def test_kept_answers_are_the_calendar_s(start: date, n: int, holidays: set[date], workdays: set[date]) -> None:
    cal = WorkCalendar(extra_holidays=holidays, extra_workdays=workdays - holidays)
    expected = cal.add_workdays(start, n)
    assert MemoCalendar(cal).add_workdays(start, n) == expected
    # Asked again by a later batch with a calendar of the same extra days: the same answer.
    same = WorkCalendar(extra_holidays=holidays, extra_workdays=workdays - holidays)
    assert MemoCalendar(same).add_workdays(start, n) == expected


def test_an_extra_holiday_added_moves_the_next_batch_s_due_dates() -> None:
    monday = date(2031, 3, 3)  # beyond the statutory calendar: Monday to Friday
    plain = MemoCalendar(WorkCalendar())
    assert plain.add_workdays(monday, 3) == monday + timedelta(days=3)
    off = MemoCalendar(WorkCalendar(extra_holidays=[monday + timedelta(days=1)]))
    assert off.add_workdays(monday, 3) == monday + timedelta(days=4)
    # The holiday withdrawn again: the answers of the plain calendar, not those kept for the other.
    assert MemoCalendar(WorkCalendar()).add_workdays(monday, 3) == monday + timedelta(days=3)
