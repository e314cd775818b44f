"""Working-day deadlines for 限时办结制, as pure functions of dates.

Rules, in one place:

- A working day follows the State Council holiday schedule, make-up working
  days (调休上班) included, via the ``chinesecalendar`` package.  For years the
  package does not know, a township supplies extra holidays and extra working
  days; otherwise Monday to Friday are working days.  The extra sets win.
- Day counting starts the day after receipt: a limit of N working days is due
  on the Nth working day after the day received.  A limit of 0 (即办件) is due
  the day received, or the next working day if received on a day off.
- The clock starts on 受理, the day the materials are complete; before that (补正
  before 受理) there is no clock at all.
- A pause (补正 after 受理) runs from the day the window asks for materials to the
  day they all arrive.  The working days in (ask, arrival] do not count; for a
  pause still open, those in (ask, today].  The due date moves out by them.
- Working time used = working days in (start, today] minus paused ones.
  A request is red once today is after the due date, yellow once at least 80 %
  of its working time is used (so always yellow on its due day), green otherwise.
  ``case_clock`` is the one place this is computed.
- 报县级: the township's time limit covers its own part, the examination (初审).
  Once a case is passed up (初审通过·已报县级) the township's clock stops for good:
  the case shows no due date, colour or overdue while the county decides, and the
  township's part was on time when it was passed up on or before its due date.
  The county's time is the county's (a county hub runs its own clock).
- 公示 (低保's 7 days before approval) does not stop the clock: 民发〔2021〕57号 counts
  it within the 30 working days of 审核确认.
"""

from __future__ import annotations

import functools

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

import chinese_calendar

GREEN = "green"
YELLOW = "yellow"
RED = "red"
# Yellow from 80 % used, as the integer ratio 4/5 so no float rounding decides a colour.
_YELLOW_NUM, _YELLOW_DEN = 4, 5

_ONE_DAY = timedelta(days=1)


def _as_date(d: date) -> date:
    # A datetime never equals a date, so it would silently miss the extra sets.
    return d.date() if isinstance(d, datetime) else d


@functools.lru_cache(maxsize=8192)
def _statutory_workday(d: date) -> bool:
    # The statutory calendar is fixed for a given chinese_calendar release, so its (slow) answer
    # per day is kept for the process: each sync batch builds a fresh WorkCalendar.
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return d.weekday() < 5


class WorkCalendar:
    """Which days are working days: the statutory calendar plus a township's own additions."""

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        """Build a calendar; a day may not be both an extra holiday and an extra working day."""
        self.extra_holidays = frozenset(_as_date(d) for d in extra_holidays)
        self.extra_workdays = frozenset(_as_date(d) for d in extra_workdays)
        both = self.extra_holidays & self.extra_workdays
        if both:
            days = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"days both holiday and working day: {days}")
        # The package's lookup is slow next to a dict; reports ask about the same days thousands of times.
        self._known: dict[date, bool] = {}

    def is_workday(self, d: date) -> bool:
        """Return True if d is a working day."""
        d = _as_date(d)
        known = self._known.get(d)
        if known is not None:
            return known
        if d in self.extra_workdays:
            answer = True
        elif d in self.extra_holidays:
            answer = False
        else:
            answer = _statutory_workday(d)
        self._known[d] = answer
        return answer

    def add_workdays(self, start: date, n: int) -> date:
        """Return the nth working day after start; for n=0, start itself or the next working day."""
        if n < 0:
            raise ValueError("n must not be negative")
        d = _as_date(start)
        if n == 0:
            while not self.is_workday(d):
                d += _ONE_DAY
            return d
        while n:
            d += _ONE_DAY
            if self.is_workday(d):
                n -= 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Return the number of working days in (a, b]; 0 when b is not after a."""
        a, b = _as_date(a), _as_date(b)
        count = 0
        d = a + _ONE_DAY
        while d <= b:
            count += self.is_workday(d)
            d += _ONE_DAY
        return count


RUNNING = "running"
PAUSED = "paused"
WAITING = "waiting"
CLOSED = "closed"
WITH_COUNTY = "with_county"  # passed up: the township's time limit is spent, the county decides


@dataclass(frozen=True)
class ClockView:
    """Where a case's legal clock stands today: the one answer every page, sweep and report shows.

    ``state`` is running, paused (补正 after 受理), waiting (materials incomplete, not yet
    受理: no clock at all), with_county (passed up, the township's part done) or closed. ``due``, ``colour`` and ``days_left`` are None whenever
    no deadline is running, so a closed or waiting case can never show one.
    """

    state: str
    due: date | None
    colour: str | None
    overdue: bool
    days_left: int | None

    @property
    def has_deadline(self) -> bool:
        """True when a due date applies (running or paused)."""
        return self.due is not None


def case_clock(
    calendar: WorkCalendar,
    *,
    closed: bool,
    start: date,
    deadline: date | None,
    paused_days: int,
    paused_since: date | None,
    today: date,
    passed_up: bool = False,
) -> ClockView:
    """The one rule for a case's due date, colour and overdue test, from its stored deadline.

    The stored deadline already holds earlier 补正 pauses and approved extensions; an open
    pause pushes it out by the working days paused so far. Catalogue edits never move it.
    Colour: red after the due date, yellow from 80 % of the working time used (always on the
    due day), green otherwise; working days paused count neither as used nor as allowed.
    """
    if closed:
        return ClockView(CLOSED, None, None, False, None)
    if passed_up:
        return ClockView(WITH_COUNTY, None, None, False, None)
    if deadline is None:
        return ClockView(WAITING, None, None, False, None)
    today, start, deadline = _as_date(today), _as_date(start), _as_date(deadline)
    open_pause = calendar.workdays_between(paused_since, today) if paused_since is not None else 0
    due = calendar.add_workdays(deadline, open_pause) if open_pause else deadline
    state = PAUSED if paused_since is not None else RUNNING
    if today > due:
        return ClockView(state, due, RED, True, -max(calendar.workdays_between(due, today), 1))
    days_left = calendar.workdays_between(today, due)
    allowed = calendar.workdays_between(start, deadline) - paused_days
    used = calendar.workdays_between(start, today) - paused_days - open_pause
    if allowed <= 0:
        colour = YELLOW if today >= due else GREEN
    else:
        colour = YELLOW if used * _YELLOW_DEN >= allowed * _YELLOW_NUM else GREEN
    return ClockView(state, due, colour, False, days_left)


def known_years(calendar: WorkCalendar) -> set[int]:
    """Years whose holidays are known: the statutory package's, plus any the township entered days for."""
    years = {y for y in range(2000, 2101) if _package_knows(y)}
    return years | {d.year for d in calendar.extra_holidays | calendar.extra_workdays}


def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def unknown_years(calendar: WorkCalendar, first: date, last: date) -> list[int]:
    """Years in [first, last] for which neither the package nor the township's entries give holidays."""
    known = known_years(calendar)
    return [y for y in range(_as_date(first).year, _as_date(last).year + 1) if y not in known]
