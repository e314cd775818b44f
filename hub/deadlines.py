"""Working-day deadlines for cases: start, pause during 补正, resume, and colour."""

from __future__ import annotations

import json
from datetime import date

from shared.workdays import WorkCalendar

from .clock import today
from .models import Case, Setting


def calendar() -> WorkCalendar:
    """The working calendar: the package's holidays plus those the admin added."""
    extra_h = Setting.get_or_none(Setting.key == "extra_holidays")
    extra_w = Setting.get_or_none(Setting.key == "extra_workdays")
    return WorkCalendar(
        extra_holidays={date.fromisoformat(d) for d in json.loads(extra_h.value)} if extra_h else set(),
        extra_workdays={date.fromisoformat(d) for d in json.loads(extra_w.value)} if extra_w else set(),
    )


def due_date(case: Case, limit_days: int, cal: WorkCalendar | None = None) -> date:
    """When the case is due: the time limit in working days from receipt, moved out by paused days."""
    cal = cal or calendar()
    return cal.add_workdays(case.received_on, limit_days + case.paused_days)


def pause(case: Case, on: date | None = None) -> None:
    """Stop the clock while the villager supplies materials."""
    if case.paused_since is None:
        case.paused_since = on or today()


def resume(case: Case, limit_days: int, on: date | None = None, cal: WorkCalendar | None = None) -> None:
    """Restart the clock; the working days spent waiting do not count."""
    cal = cal or calendar()
    if case.paused_since is not None:
        case.paused_days += cal.workdays_between(case.paused_since, on or today())
        case.paused_since = None
    case.deadline = due_date(case, limit_days, cal)
