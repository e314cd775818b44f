"""Queue colours: yellow from 80 % of the working time used, red when overdue, paused during 补正."""

from __future__ import annotations

from datetime import date

from hub.models import Case
from hub.queue import colour
from shared.workdays import WorkCalendar

CAL = WorkCalendar()
TODAY = date(2026, 11, 25)  # a Wednesday with no holiday near


def case(deadline: date | None, state: str = "accepted", paused: date | None = None) -> Case:
    return Case(deadline=deadline, state=state, paused_since=paused)


def test_colours_follow_the_working_time_left() -> None:
    assert colour(case(CAL.add_workdays(TODAY, 2)), 5, CAL, TODAY) == "green"   # 3 of 5 used
    assert colour(case(CAL.add_workdays(TODAY, 1)), 5, CAL, TODAY) == "yellow"  # 4 of 5 used: 80 %
    assert colour(case(TODAY), 5, CAL, TODAY) == "yellow"                       # due today
    assert colour(case(date(2026, 11, 24)), 5, CAL, TODAY) == "red"            # overdue
    assert colour(case(TODAY), 0, CAL, TODAY) == "yellow"                       # 即办件 on its day
    assert colour(case(date(2026, 11, 26)), 0, CAL, TODAY) == "green"


def test_paused_and_closed_cases() -> None:
    assert colour(case(date(2026, 11, 1), "needs_materials", paused=TODAY), 5, CAL, TODAY) == "paused"
    assert colour(case(date(2026, 11, 1), "approved"), 5, CAL, TODAY) == "green"
    assert colour(case(None, "received"), 5, CAL, TODAY) == "green"
