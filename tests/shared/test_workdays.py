"""Tests for working-day deadlines, pauses and urgency colours."""

from datetime import date
from datetime import datetime

import chinese_calendar
import pytest

from shared.workdays import WorkCalendar
from shared.workdays import case_clock
from shared.workdays import unknown_years

CAL = WorkCalendar()
D = date


def test_package_agrees_on_2025_national_day():
    for day in range(1, 9):
        assert not chinese_calendar.is_workday(D(2025, 10, day))
        assert not CAL.is_workday(D(2025, 10, day))
    # Make-up working days on a Sunday and a Saturday.
    assert CAL.is_workday(D(2025, 9, 28))
    assert D(2025, 9, 28).weekday() == 6
    assert CAL.is_workday(D(2025, 10, 11))
    assert D(2025, 10, 11).weekday() == 5
    assert not CAL.is_workday(D(2025, 10, 12))


def test_add_workdays_zero_and_n():
    assert CAL.add_workdays(D(2025, 9, 26), 0) == D(2025, 9, 26)  # Friday, a working day
    assert CAL.add_workdays(D(2025, 9, 27), 0) == D(2025, 9, 28)  # Saturday -> make-up Sunday
    assert CAL.add_workdays(D(2025, 10, 1), 0) == D(2025, 10, 9)
    assert CAL.add_workdays(D(2025, 9, 26), 1) == D(2025, 9, 28)
    assert CAL.add_workdays(D(2025, 9, 30), 1) == D(2025, 10, 9)
    with pytest.raises(ValueError):
        CAL.add_workdays(D(2025, 9, 30), -1)


def test_workdays_between_is_half_open():
    assert CAL.workdays_between(D(2025, 9, 26), D(2025, 10, 11)) == 6
    assert CAL.workdays_between(D(2025, 9, 30), D(2025, 10, 8)) == 0
    assert CAL.workdays_between(D(2025, 10, 9), D(2025, 10, 9)) == 0
    assert CAL.workdays_between(D(2025, 10, 9), D(2025, 10, 1)) == 0


def clock(start, deadline, today, paused_days=0, paused_since=None, closed=False):
    return case_clock(
        CAL,
        closed=closed,
        start=start,
        deadline=deadline,
        paused_days=paused_days,
        paused_since=paused_since,
        today=today,
    )


def test_deadline_across_national_day():
    # Working days after Fri 26 Sep: 28, 29, 30 Sep, 9, 10, 11, 13, 14, 15, 16 Oct.
    assert CAL.add_workdays(D(2025, 9, 26), 10) == D(2025, 10, 16)
    assert CAL.add_workdays(D(2025, 9, 26), 0) == D(2025, 9, 26)


def test_closed_pause_already_folded_into_the_stored_deadline():
    # Paused 29 Sep – 10 Oct after 受理: 30 Sep, 9 and 10 Oct (3 working days) moved the due date to 21 Oct.
    due = CAL.add_workdays(D(2025, 10, 16), 3)
    assert due == D(2025, 10, 21)
    assert clock(D(2025, 9, 26), due, D(2025, 10, 17), paused_days=3).colour == "yellow"  # 8 of 10 used
    assert clock(D(2025, 9, 26), due, D(2025, 10, 16), paused_days=3).colour == "green"  # 7 of 10
    assert clock(D(2025, 9, 26), due, D(2025, 10, 21), paused_days=3).colour == "yellow"
    late = clock(D(2025, 9, 26), due, D(2025, 10, 22), paused_days=3)
    assert (late.colour, late.overdue, late.days_left) == ("red", True, -1)
    # Without the pause it would have been red already.
    assert clock(D(2025, 9, 26), D(2025, 10, 16), D(2025, 10, 17)).colour == "red"


def test_open_pause_keeps_moving_the_due_date():
    start, due = D(2025, 9, 26), D(2025, 10, 16)
    view = clock(start, due, D(2025, 9, 30), paused_since=D(2025, 9, 29))
    assert view.state == "paused"
    assert view.due == CAL.add_workdays(due, 1)
    # 30 Sep, 9, 10, 11 (make-up Saturday), 13–17 and 20 Oct: 10 paused working days.
    assert clock(start, due, D(2025, 10, 20), paused_since=D(2025, 9, 29)).due == CAL.add_workdays(due, 10)
    # Frozen at 1 of 10 days used however long the villager takes.
    far = clock(start, due, D(2025, 12, 1), paused_since=D(2025, 9, 29))
    assert (far.colour, far.overdue) == ("green", False)


def test_same_day_items():
    day = D(2025, 9, 26)
    assert clock(day, day, day).colour == "yellow"
    assert clock(day, day, D(2025, 9, 27)).colour == "red"
    assert clock(D(2025, 9, 28), D(2025, 9, 28), D(2025, 9, 27)).colour == "green"


def test_no_clock_before_acceptance_and_none_once_closed():
    waiting = clock(D(2025, 9, 26), None, D(2025, 12, 1))
    assert (waiting.state, waiting.due, waiting.colour, waiting.overdue, waiting.days_left) == (
        "waiting",
        None,
        None,
        False,
        None,
    )
    closed = clock(D(2025, 9, 26), D(2025, 10, 16), D(2025, 12, 1), closed=True)
    assert (closed.state, closed.due, closed.colour, closed.overdue) == ("closed", None, None, False)


def test_days_left():
    start, due = D(2025, 9, 26), D(2025, 10, 16)
    assert clock(start, due, D(2025, 9, 26)).days_left == 10
    assert clock(start, due, D(2025, 10, 16)).days_left == 0
    assert clock(start, due, D(2025, 10, 18)).days_left == -1  # overdue over a weekend
    assert clock(start, due, D(2025, 10, 21)).days_left == -3


def test_years_nobody_covers():
    assert unknown_years(CAL, D(2026, 12, 31), D(2027, 2, 1)) == [2027]
    assert unknown_years(CAL, D(2025, 1, 1), D(2026, 6, 1)) == []
    township = WorkCalendar(extra_holidays={D(2027, 2, 11)})
    assert unknown_years(township, D(2026, 12, 31), D(2027, 2, 1)) == []


def test_unknown_year_falls_back_to_weekdays():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2099, 1, 5))
    assert CAL.is_workday(D(2099, 1, 5))  # Monday
    assert not CAL.is_workday(D(2099, 1, 3))  # Saturday


def test_unknown_year_with_township_supplied_holidays():
    # A made-up Spring Festival for 2099: Mon 9 – Fri 13 Feb off, Sat 7 Feb worked.
    holidays = {D(2099, 2, d) for d in range(9, 14)}
    cal = WorkCalendar(extra_holidays=holidays, extra_workdays={D(2099, 2, 7)})
    assert cal.is_workday(D(2099, 2, 7))
    assert not cal.is_workday(D(2099, 2, 10))
    # From Fri 6 Feb: 7 (make-up), then 16, 17, 18 Feb.
    assert cal.add_workdays(D(2099, 2, 6), 4) == D(2099, 2, 18)
    assert CAL.add_workdays(D(2099, 2, 6), 4) == D(2099, 2, 12)


def test_extra_sets_override_the_package():
    cal = WorkCalendar(extra_holidays={D(2025, 9, 29)}, extra_workdays={D(2025, 10, 12)})
    assert not cal.is_workday(D(2025, 9, 29))
    assert cal.is_workday(D(2025, 10, 12))
    with pytest.raises(ValueError):
        WorkCalendar(extra_holidays={D(2025, 1, 1)}, extra_workdays={D(2025, 1, 1)})


def test_datetimes_are_treated_as_their_date():
    cal = WorkCalendar(extra_holidays={D(2099, 1, 5)})
    assert not cal.is_workday(datetime(2099, 1, 5, 9, 30))


def test_a_passed_up_case_has_no_township_deadline():
    from shared.workdays import WITH_COUNTY

    view = case_clock(
        WorkCalendar(),
        closed=False,
        start=date(2026, 3, 2),
        deadline=date(2026, 3, 30),
        paused_days=0,
        paused_since=None,
        today=date(2026, 6, 1),
        passed_up=True,
    )
    assert (view.state, view.due, view.colour, view.overdue) == (WITH_COUNTY, None, None, False)
