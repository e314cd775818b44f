"""Working-day deadlines for 限时办结制, as pure functions of dates.

Rules, in one place:

- A working day follows the State Council holiday schedule, make-up working
  days (调休上班) included, via the ``chinesecalendar`` package.  For years the
  package does not know, a township supplies extra holidays and extra working
  days; otherwise Monday to Friday are working days.  The extra sets win.
- Day counting starts the day after receipt: a limit of N working days is due
  on the Nth working day after the day received.  A limit of 0 (即办件) is due
  the day received, or the next working day if received on a day off.
- A pause (补正) runs from the day the window asks for materials to the day they
  arrive.  The working days in (ask, arrival] do not count; for a pause still
  open, those in (ask, today].  The due date moves out by the paused working days.
- Working time used = working days in (received, today] minus paused ones.
  A request is red once today is after the due date, yellow once at least 80 %
  of its working time is used (so always yellow on its due day), green otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

import chinese_calendar

Pause = tuple[date, date | None]

GREEN = "green"
YELLOW = "yellow"
RED = "red"
# Yellow from 80 % used, as the integer ratio 4/5 so no float rounding decides a colour.
_YELLOW_NUM, _YELLOW_DEN = 4, 5

_ONE_DAY = timedelta(days=1)


def _as_date(d: date) -> date:
    # A datetime never equals a date, so it would silently miss the extra sets.
    return d.date() if isinstance(d, datetime) else d


class WorkCalendar:
    """Which days are working days: the statutory calendar plus a township's own additions."""

    def __init__(
        self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> None:
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
            try:
                answer = bool(chinese_calendar.is_workday(d))
            except NotImplementedError:
                answer = d.weekday() < 5
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


def paused_workdays(
    calendar: WorkCalendar, pauses: Iterable[Pause], today: date, since: date | None = None
) -> int:
    """Return the working days in the pauses, each (ask, arrival] or (ask, today] if open, counted once."""
    today = _as_date(today)
    days: set[date] = set()
    for start, end in pauses:
        lo = _as_date(start)
        if since is not None:
            lo = max(lo, _as_date(since))
        hi = min(_as_date(end), today) if end is not None else today
        d = lo + _ONE_DAY
        while d <= hi:
            if calendar.is_workday(d):
                days.add(d)
            d += _ONE_DAY
    return len(days)


def deadline(
    calendar: WorkCalendar, received: date, limit_days: int, paused_workdays: int = 0
) -> date:
    """Return the due date: limit_days plus paused working days after the day received."""
    if limit_days < 0 or paused_workdays < 0:
        raise ValueError("limit_days and paused_workdays must not be negative")
    return calendar.add_workdays(received, limit_days + paused_workdays)


def _used_and_allowed(
    calendar: WorkCalendar, start: date, due: date, today: date, paused: int
) -> tuple[int, int]:
    used = max(calendar.workdays_between(start, today) - paused, 0)
    allowed = calendar.workdays_between(start, due) - paused
    return used, allowed


def used_fraction(
    calendar: WorkCalendar, start: date, due: date, today: date, paused: int
) -> float:
    """Return the share of working time used by today (may exceed 1 when overdue)."""
    used, allowed = _used_and_allowed(calendar, start, due, today, paused)
    if allowed <= 0:
        # Same-day items have no working time to share out: all used once the due day comes.
        return 1.0 if _as_date(today) >= _as_date(due) else 0.0
    return used / allowed


def urgency(
    calendar: WorkCalendar, start: date, due: date, today: date, pauses: Iterable[Pause]
) -> str:
    """Return "red" after the due date, "yellow" from 80 % of working time used, else "green"."""
    today, due = _as_date(today), _as_date(due)
    if today > due:
        return RED
    paused = paused_workdays(calendar, pauses, today, since=start)
    used, allowed = _used_and_allowed(calendar, start, due, today, paused)
    if allowed <= 0:
        return YELLOW if today >= due else GREEN
    return YELLOW if used * _YELLOW_DEN >= allowed * _YELLOW_NUM else GREEN


@dataclass(frozen=True)
class CaseClock:
    """The legal clock of one request: when received, its limit, and its 补正 pauses."""

    received: date
    limit_days: int
    pauses: tuple[Pause, ...] = ()

    def paused(self, calendar: WorkCalendar, today: date) -> int:
        """Return the working days paused up to today."""
        return paused_workdays(calendar, self.pauses, today, since=self.received)

    def is_paused(self) -> bool:
        """Return True while a pause is still open."""
        return any(end is None for _, end in self.pauses)

    def due(self, calendar: WorkCalendar, today: date) -> date:
        """Return the due date as it stands today (an open pause keeps pushing it out)."""
        return deadline(calendar, self.received, self.limit_days, self.paused(calendar, today))

    def used_fraction(self, calendar: WorkCalendar, today: date) -> float:
        """Return the share of working time used by today."""
        return used_fraction(
            calendar, self.received, self.due(calendar, today), today, self.paused(calendar, today)
        )

    def urgency(self, calendar: WorkCalendar, today: date) -> str:
        """Return "green", "yellow" or "red" for today."""
        return urgency(calendar, self.received, self.due(calendar, today), today, self.pauses)

    def remaining_workdays(self, calendar: WorkCalendar, today: date) -> int:
        """Return working days left until due (0 on the due day, negative when overdue)."""
        due = self.due(calendar, today)
        if _as_date(today) <= due:
            return calendar.workdays_between(today, due)
        # Overdue over a weekend is still overdue, so never report 0 past the due date.
        return -max(calendar.workdays_between(due, today), 1)


RUNNING = "running"
PAUSED = "paused"
WAITING = "waiting"
CLOSED = "closed"


@dataclass(frozen=True)
class ClockView:
    """Where a case's legal clock stands today: the one answer every page, sweep and report shows.

    ``state`` is running, paused (补正 after 受理), waiting (materials incomplete, not yet
    受理: no clock at all) or closed. ``due``, ``colour`` and ``days_left`` are None whenever
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
) -> ClockView:
    """The one rule for a case's due date, colour and overdue test, from its stored deadline.

    The stored deadline already holds earlier 补正 pauses and approved extensions; an open
    pause pushes it out by the working days paused so far. Catalogue edits never move it.
    Colour: red after the due date, yellow from 80 % of the working time used (always on the
    due day), green otherwise; working days paused count neither as used nor as allowed.
    """
    if closed:
        return ClockView(CLOSED, None, None, False, None)
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
