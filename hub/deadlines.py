"""Working-day deadlines for cases: when the clock starts (受理), pauses (补正), resumes, and its colour.

The due date, colour and overdue test come from one rule (shared.workdays.case_clock) applied
to the stored deadline; the queue, the sweep, the dashboard, metrics and figures all ask here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

from shared import states
from shared.workdays import (
    CLOSED,
    GREEN,
    PAUSED,
    RUNNING,
    WAITING,
    WITH_COUNTY,
    ClockView,
    WorkCalendar,
    case_clock,
    unknown_years,
)

from . import settings
from .clock import today
from .models import Case

# 行政许可法 §32: a 补正 notice is due within five working days of receipt.
NOTICE_WORKDAYS = 5
# How far ahead the calendar must be known for the warning to stay quiet.
LOOKAHEAD_DAYS = 90


def day_set(key: str) -> set[date]:
    """The extra holidays ("extra_holidays") or make-up working days ("extra_workdays") the admin added."""
    return _days(settings.get(key))


def _days(value: str | None) -> set[date]:
    """A stored day list (JSON of ISO dates) as dates."""
    return {date.fromisoformat(d) for d in json.loads(value)} if value else set()


def calendar() -> WorkCalendar:
    """The working calendar: the package's holidays plus those the admin added."""
    return calendar_sent()()


def calendar_sent() -> Callable[[], WorkCalendar]:
    """`calendar`'s two reads sent now; calling the result reads them (hub.db.pipelined: with others)."""
    holidays, workdays = settings.get_sent("extra_holidays"), settings.get_sent("extra_workdays")
    return lambda: WorkCalendar(extra_holidays=_days(holidays()), extra_workdays=_days(workdays()))


def clock_start(case: Case) -> date:
    """The day the time limit runs from: 受理 (materials complete), or receipt for older records."""
    return case.clock_start or case.received_on


def clock_state(case: Case) -> str:
    """running, paused, waiting (no clock before 受理) or closed, without the calendar."""
    if states.is_terminal(case.state):
        return CLOSED
    if with_county(case.state):
        return WITH_COUNTY
    if case.deadline is None:
        return WAITING
    return PAUSED if case.paused_since is not None else RUNNING


def clock(case: Case, cal: WorkCalendar | None = None, on: date | None = None) -> ClockView:
    """The case's due date, colour and overdue test today (the one rule, for every page and job)."""
    return case_clock(
        cal or calendar(),
        closed=states.is_terminal(case.state),
        start=clock_start(case),
        deadline=case.deadline,
        paused_days=case.paused_days or 0,
        paused_since=case.paused_since,
        today=on or today(),
        passed_up=with_county(case.state),
    )


def open_colour(start: date, due: date | None, on: date | None = None) -> str:
    """green / yellow / red for something still awaiting an answer (a 差评, a mailbox message) by the
    cases' one clock rule, with no 补正 pauses; green when it has no due date."""
    if due is None:
        return GREEN
    view = case_clock(
        calendar(), closed=False, start=start, deadline=due, paused_days=0, paused_since=None, today=on or today()
    )
    return view.colour or GREEN


def with_county(state: str) -> bool:
    """Passed up and so off the township's clock; at a county hub the same case is on the county's clock."""
    if state not in states.WITH_COUNTY:
        return False  # most cases: no import and no setting read on every status body
    from .county import level

    return not level.is_county()


def start(case: Case, limit_days: int, on: date | None = None, cal: WorkCalendar | None = None) -> None:
    """Start the clock on the day the materials are complete: due limit_days working days later."""
    cal = cal or calendar()
    case.clock_start = on or today()
    case.paused_since = None
    case.paused_days = 0
    case.deadline = cal.add_workdays(case.clock_start, limit_days)


def stop(case: Case) -> None:
    """Before 受理 a 补正 means no clock at all: it starts afresh when the materials are complete."""
    case.clock_start = None
    case.deadline = None
    case.paused_since = None
    case.paused_days = 0


def pause(case: Case, on: date | None = None) -> None:
    """Stop the clock of an accepted case while the villager supplies materials."""
    if case.paused_since is None and case.deadline is not None:
        case.paused_since = on or today()


def resume(case: Case, on: date | None = None, cal: WorkCalendar | None = None) -> None:
    """Restart a paused clock: the stored deadline moves out by the working days spent waiting."""
    cal = cal or calendar()
    if case.paused_since is not None and case.deadline is not None:
        paused = cal.workdays_between(case.paused_since, on or today())
        case.paused_days = (case.paused_days or 0) + paused
        case.deadline = cal.add_workdays(case.deadline, paused) if paused else case.deadline
    case.paused_since = None


def notice_overdue(case: Case, cal: WorkCalendar | None = None, on: date | None = None) -> bool:
    """True when the 补正 notice came, or is still owed, later than five working days after receipt."""
    cal = cal or calendar()
    if case.materials_asked_on is not None:
        return cal.workdays_between(case.received_on, case.materials_asked_on) > NOTICE_WORKDAYS
    # Still undecided at the window (neither accepted nor asked): the five days are running out.
    return (
        case.state == states.RECEIVED
        and case.accepted_on is None
        and case.deadline is not None
        and case.mode != "immediate"
        and cal.workdays_between(case.received_on, on or today()) > NOTICE_WORKDAYS
    )


def calendar_gaps(cal: WorkCalendar | None = None, on: date | None = None) -> list[int]:
    """Years that running cases' spans or the next 90 days reach which no calendar covers (counted as Mon–Fri)."""

    cal = cal or calendar()
    on = on or today()
    last = on + timedelta(days=LOOKAHEAD_DAYS)
    first = on
    for case in Case.select().where(Case.state.not_in(list(states.TERMINAL)) & Case.deadline.is_null(False)):
        first = min(first, case.clock_start or case.received_on)
        view = clock(case, cal, on)
        if view.due is not None:
            last = max(last, view.due)
    return unknown_years(cal, first, last)


def overdue_by_window(cal: WorkCalendar | None = None, on: date | None = None) -> dict[str, int]:
    """Open cases past their due date by the one rule, counted per window."""
    cal = cal or calendar()
    out: dict[str, int] = {}
    for case in Case.select().where(Case.state.not_in(list(states.TERMINAL)) & Case.deadline.is_null(False)):
        if clock(case, cal, on).overdue:
            out[case.window] = out.get(case.window, 0) + 1
    return out
