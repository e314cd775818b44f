"""Tests for working-day deadlines, pauses and urgency colours."""

from datetime import date
from datetime import datetime

import chinese_calendar
import pytest

from shared.workdays import CaseClock
from shared.workdays import WorkCalendar
from shared.workdays import deadline
from shared.workdays import paused_workdays
from shared.workdays import urgency
from shared.workdays import used_fraction

CAL = WorkCalendar()
D = date


def test_package_agrees_on_2025_national_day():
    for day in range(1, 9):
        assert not chinese_calendar.is_workday(D(2025, 10, day))
        assert not CAL.is_workday(D(2025, 10, day))
    # Make-up working days on a Sunday and a Saturday.
    assert CAL.is_workday(D(2025, 9, 28)) and D(2025, 9, 28).weekday() == 6
    assert CAL.is_workday(D(2025, 10, 11)) and D(2025, 10, 11).weekday() == 5
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


def test_deadline_across_national_day():
    # Working days after Fri 26 Sep: 28, 29, 30 Sep, 9, 10, 11, 13, 14, 15, 16 Oct.
    assert deadline(CAL, D(2025, 9, 26), 10) == D(2025, 10, 16)
    assert deadline(CAL, D(2025, 9, 26), 0) == D(2025, 9, 26)


def test_deadline_with_pause_across_national_day():
    # Asked for materials Mon 29 Sep, supplied Fri 10 Oct: 30 Sep, 9 and 10 Oct do not count.
    pauses = [(D(2025, 9, 29), D(2025, 10, 10))]
    assert paused_workdays(CAL, pauses, D(2025, 10, 20)) == 3
    assert deadline(CAL, D(2025, 9, 26), 10, 3) == D(2025, 10, 21)
    clock = CaseClock(D(2025, 9, 26), 10, tuple(pauses))
    assert clock.due(CAL, D(2025, 10, 20)) == D(2025, 10, 21)
    assert clock.urgency(CAL, D(2025, 10, 17)) == "yellow"  # 8 of 10 days used
    assert clock.urgency(CAL, D(2025, 10, 16)) == "green"   # 7 of 10
    assert clock.urgency(CAL, D(2025, 10, 21)) == "yellow"
    assert clock.urgency(CAL, D(2025, 10, 22)) == "red"
    # Without the pause it would have been red already.
    assert urgency(CAL, D(2025, 9, 26), D(2025, 10, 16), D(2025, 10, 17), []) == "red"


def test_open_pause_keeps_moving_the_due_date():
    clock = CaseClock(D(2025, 9, 26), 10, ((D(2025, 9, 29), None),))
    assert clock.is_paused()
    assert clock.due(CAL, D(2025, 9, 30)) == deadline(CAL, D(2025, 9, 26), 10, 1)
    # 30 Sep, 9, 10, 11 (make-up Saturday), 13–17 and 20 Oct: 10 paused working days.
    assert clock.due(CAL, D(2025, 10, 20)) == deadline(CAL, D(2025, 9, 26), 10, 10)
    # Frozen at 2 of 10 days used however long the villager takes.
    assert clock.used_fraction(CAL, D(2025, 12, 1)) == pytest.approx(0.2)
    assert clock.urgency(CAL, D(2025, 12, 1)) == "green"


def test_overlapping_pauses_count_once():
    pauses = [(D(2025, 9, 29), D(2025, 10, 10)), (D(2025, 10, 9), D(2025, 10, 13))]
    # 30 Sep, 9, 10, 11 (make-up Saturday), 13 Oct; 10 Oct is in both but counted once.
    assert paused_workdays(CAL, pauses, D(2025, 10, 20)) == 5


def test_used_fraction_and_same_day_items():
    due = deadline(CAL, D(2025, 9, 26), 10)
    assert used_fraction(CAL, D(2025, 9, 26), due, D(2025, 9, 26), 0) == 0.0
    assert used_fraction(CAL, D(2025, 9, 26), due, D(2025, 10, 9), 0) == pytest.approx(0.4)
    assert used_fraction(CAL, D(2025, 9, 26), due, D(2025, 10, 17), 0) == pytest.approx(1.1)
    # 即办件 received on a working day: due that day, yellow on it, red after.
    day = D(2025, 9, 26)
    assert used_fraction(CAL, day, day, day, 0) == 1.0
    assert urgency(CAL, day, day, day, []) == "yellow"
    assert urgency(CAL, day, day, D(2025, 9, 27), []) == "red"


def test_remaining_workdays():
    clock = CaseClock(D(2025, 9, 26), 10)
    assert clock.remaining_workdays(CAL, D(2025, 9, 26)) == 10
    assert clock.remaining_workdays(CAL, D(2025, 10, 16)) == 0
    assert clock.remaining_workdays(CAL, D(2025, 10, 18)) == -1  # overdue over a weekend
    assert clock.remaining_workdays(CAL, D(2025, 10, 21)) == -3


def test_unknown_year_falls_back_to_weekdays():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2099, 1, 5))
    assert CAL.is_workday(D(2099, 1, 5))      # Monday
    assert not CAL.is_workday(D(2099, 1, 3))  # Saturday


def test_unknown_year_with_township_supplied_holidays():
    # A made-up Spring Festival for 2099: Mon 9 – Fri 13 Feb off, Sat 7 Feb worked.
    holidays = {D(2099, 2, d) for d in range(9, 14)}
    cal = WorkCalendar(extra_holidays=holidays, extra_workdays={D(2099, 2, 7)})
    assert cal.is_workday(D(2099, 2, 7))
    assert not cal.is_workday(D(2099, 2, 10))
    # From Fri 6 Feb: 7 (make-up), then 16, 17, 18 Feb.
    assert deadline(cal, D(2099, 2, 6), 4) == D(2099, 2, 18)
    assert deadline(CAL, D(2099, 2, 6), 4) == D(2099, 2, 12)


def test_extra_sets_override_the_package():
    cal = WorkCalendar(extra_holidays={D(2025, 9, 29)}, extra_workdays={D(2025, 10, 12)})
    assert not cal.is_workday(D(2025, 9, 29))
    assert cal.is_workday(D(2025, 10, 12))
    with pytest.raises(ValueError):
        WorkCalendar(extra_holidays={D(2025, 1, 1)}, extra_workdays={D(2025, 1, 1)})


def test_datetimes_are_treated_as_their_date():
    cal = WorkCalendar(extra_holidays={D(2099, 1, 5)})
    assert not cal.is_workday(datetime(2099, 1, 5, 9, 30))
