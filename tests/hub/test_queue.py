"""Queue colours: yellow from 80 % of the working time used, red when overdue, paused during 补正."""

from __future__ import annotations

from datetime import date

from hub.models import Case
from hub.queue import colour
from shared.workdays import WorkCalendar

CAL = WorkCalendar()
TODAY = date(2026, 11, 25)  # a Wednesday with no holiday near


def case(deadline: date | None, state: str = "accepted", paused: date | None = None, start: date | None = None) -> Case:
    # A five-working-day limit started on the Wednesday before TODAY, unless told otherwise.
    begun = start or date(2026, 11, 18)
    return Case(
        deadline=deadline,
        state=state,
        paused_since=paused,
        received_on=begun,
        clock_start=begun,
        paused_days=0,
        mode="processed",
        accepted_on=begun,
    )


def test_colours_follow_the_working_time_left() -> None:
    start = date(2026, 11, 20)  # Friday: 3 of 5 used by Wednesday
    assert colour(case(CAL.add_workdays(start, 5), start=start), CAL, TODAY) == "green"
    start = date(2026, 11, 19)  # Thursday: 4 of 5 used, 80 %
    assert colour(case(CAL.add_workdays(start, 5), start=start), CAL, TODAY) == "yellow"
    assert colour(case(TODAY), CAL, TODAY) == "yellow"  # due today
    assert colour(case(date(2026, 11, 24)), CAL, TODAY) == "red"  # overdue
    assert colour(case(TODAY, start=TODAY), CAL, TODAY) == "yellow"  # 即办件 on its day
    assert colour(case(date(2026, 11, 26), start=date(2026, 11, 26)), CAL, TODAY) == "green"


def test_paused_waiting_and_closed_cases() -> None:
    assert colour(case(date(2026, 11, 30), "needs_materials", paused=TODAY), CAL, TODAY) == "paused"
    # Closed: no running deadline, whatever the stored date says.
    assert colour(case(date(2026, 11, 1), "approved"), CAL, TODAY) == "closed"
    # Waiting for materials before 受理: no clock at all.
    assert colour(case(None, "needs_materials"), CAL, TODAY) == "waiting"


def test_catalogue_edits_do_not_move_the_colour() -> None:
    # The stored deadline is the authority: the rule never reads the catalogue's current limit.
    c = case(date(2026, 11, 27), start=date(2026, 11, 20))
    assert colour(c, CAL, TODAY) == "green"  # 3 of 5 used
