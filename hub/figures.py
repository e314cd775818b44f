"""The figures a township reports (效能监督): handled, completed, on time, days taken, satisfaction.

`load_rows` reads the cases once; `summarise` and `grouped` are pure functions of those
rows and a working calendar, so the arithmetic is tested without a database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable

from shared import ratings, states
from shared.workdays import WorkCalendar, case_clock

from .clock import china_date
from .models import Case, Village
from shared.msgid import N_

COMPLETED = frozenset({states.APPROVED, states.DENIED})
SATISFIED = ratings.SATISFIED
GROUPS = {"window": N_("窗口"), "village": N_("行政村"), "item": N_("事项"), "month": N_("月份")}


@dataclass(frozen=True)
class CaseRow:
    """What the figures need of one case."""

    item_code: str
    window: str
    village: str
    mode: str
    state: str
    received_on: date
    deadline: date | None
    closed_on: date | None
    paused_days: int
    satisfaction: str | None
    paused_since: date | None = None
    clock_start: date | None = None


@dataclass
class Figures:
    """One line of the report."""

    key: str = ""
    label: str = ""
    handled: int = 0
    immediate: int = 0
    processed: int = 0
    completed: int = 0
    on_time: int = 0
    late: int = 0
    in_progress: int = 0
    refused: int = 0
    withdrawn: int = 0
    overdue_open: int = 0
    workdays_total: int = 0
    feedback: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ratings.LEVELS, 0))

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率: completed on or before the due date, over all completed (None when none)."""
        return self.on_time / self.completed if self.completed else None

    @property
    def avg_workdays(self) -> float | None:
        """Average working days from receipt to completion, 补正 pauses excluded."""
        return self.workdays_total / self.completed if self.completed else None

    @property
    def responses(self) -> int:
        """How many villagers gave feedback."""
        return sum(self.feedback.values())

    @property
    def satisfaction_rate(self) -> float | None:
        """Share of feedback that was 非常满意, 满意 or 基本满意 (None when nobody answered)."""
        return sum(self.feedback[k] for k in SATISFIED) / self.responses if self.responses else None

    def as_dict(self) -> dict[str, Any]:
        """Plain values for CSV/xlsx export and JSON."""
        return {
            "key": self.key, "label": self.label, "handled": self.handled, "immediate": self.immediate,
            "processed": self.processed, "completed": self.completed, "on_time": self.on_time,
            "late": self.late, "in_progress": self.in_progress, "refused": self.refused,
            "withdrawn": self.withdrawn, "overdue_open": self.overdue_open,
            "on_time_rate": self.on_time_rate, "avg_workdays": self.avg_workdays,
            **{ratings.KEYS[level]: n for level, n in self.feedback.items()},
            "satisfaction_rate": self.satisfaction_rate,
        }


def add(fig: Figures, row: CaseRow, cal: WorkCalendar, today: date) -> None:
    """Count one case into a line of figures."""
    fig.handled += 1
    if row.mode == "immediate":
        fig.immediate += 1
    else:
        fig.processed += 1
    if row.state in COMPLETED and row.closed_on is not None:
        fig.completed += 1
        if row.deadline is None or row.closed_on <= row.deadline:
            fig.on_time += 1
        else:
            fig.late += 1
        fig.workdays_total += max(cal.workdays_between(row.received_on, row.closed_on) - row.paused_days, 0)
    elif row.state == states.REFUSED:
        fig.refused += 1
    elif row.state in (states.WITHDRAWN, states.INVALID):
        fig.withdrawn += 1
    else:
        fig.in_progress += 1
        # The one overdue rule (shared.workdays.case_clock), as the queue and the sweep apply it.
        if case_clock(cal, closed=False, start=row.clock_start or row.received_on, deadline=row.deadline,
                      paused_days=row.paused_days or 0, paused_since=row.paused_since, today=today).overdue:
            fig.overdue_open += 1
    level = ratings.level_of(row.satisfaction)
    if level is not None:
        fig.feedback[level] += 1


def summarise(rows: Iterable[CaseRow], cal: WorkCalendar, today: date) -> Figures:
    """The totals over all rows."""
    fig = Figures(key="total", label=N_("合计"))
    for row in rows:
        add(fig, row, cal, today)
    return fig


KEYS: dict[str, Callable[[CaseRow], str]] = {
    "window": lambda r: r.window,
    "village": lambda r: r.village,
    "item": lambda r: r.item_code,
    "month": lambda r: r.received_on.strftime("%Y-%m"),
}


def grouped(rows: Iterable[CaseRow], by: str, cal: WorkCalendar, today: date,
            labels: dict[str, str] | None = None) -> list[Figures]:
    """One line per window, village, item or month, in key order."""
    if by not in KEYS:
        raise ValueError(f"unknown grouping: {by}")
    lines: dict[str, Figures] = defaultdict(Figures)
    for row in rows:
        key = KEYS[by](row)
        fig = lines[key]
        fig.key = key
        add(fig, row, cal, today)
    for key, fig in lines.items():
        fig.label = (labels or {}).get(key, key)
    return [lines[k] for k in sorted(lines)]


def load_rows(start: date | None = None, end: date | None = None) -> list[CaseRow]:
    """Cases received between start and end (inclusive), as rows for the figures."""
    # Only the columns the figures use, as tuples: a year of cases loads without building models.
    query = (Case.select(Case.item_code, Case.window, Village.name, Case.mode, Case.state, Case.received_on,
                         Case.deadline, Case.closed_at, Case.paused_days, Case.satisfaction, Case.paused_since,
                         Case.clock_start)
             .join(Village).tuples())
    if start:
        query = query.where(Case.received_on >= start)
    if end:
        query = query.where(Case.received_on <= end)
    return [
        CaseRow(item_code=item, window=window, village=village, mode=mode, state=state, received_on=received,
                deadline=deadline, closed_on=china_date(closed) if closed else None, paused_days=paused,
                satisfaction=satisfaction, paused_since=paused_since, clock_start=clock_start)
        for (item, window, village, mode, state, received, deadline, closed, paused, satisfaction, paused_since,
             clock_start) in query
    ]


def percent(value: float | None) -> str:
    """A rate as the township writes it ("50.0%"), or a dash when there is nothing to rate."""
    return "—" if value is None else f"{value * 100:.1f}%"
