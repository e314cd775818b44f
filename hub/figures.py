"""The figures a township reports (效能监督), in the centre's own categories.

The centre writes its year as 接待 11,211 事项 = 即办件 8,803（全部办结）+ 承办件 2,408
（已办结 2,353 + 正在办理 55），按时办结率 100 %. `build_report` is the one function the
supervision page, its exports and `daiban hub figures` call. `load_rows` reads the cases once;
`summarise` and `grouped` are pure functions of those rows and a working calendar, so the
arithmetic is tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable

from shared import ratings, states
from shared.workdays import WorkCalendar, case_clock

from . import audit
from .catalogue_store import current as current_catalogue
from .clock import china_date, today
from .deadlines import calendar, with_county
from .models import Case, Staff, Village
from shared.msgid import N_, listed

COMPLETED = frozenset({states.APPROVED, states.DENIED})
SATISFIED = ratings.SATISFIED
GROUPS = {
    "window": N_("窗口"),
    "village": N_("行政村"),
    "item": N_("事项"),
    "month": N_("月份"),
    "staff": N_("人员"),
    "source": N_("来源"),
}
SOURCES = {"village": N_("代办点（村）"), "counter": N_("中心窗口"), "township": N_("乡镇报县级")}
UNASSIGNED = "未分配"


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
    source: str = "village"
    staff: str | None = None  # 承办人, or at the counter the 首问责任人 who received it (for 考核)


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
    # The centre's categories: refused (不予受理) and withdrawn cases are neither 即办件 nor 承办件.
    instant_done: int = 0
    instant_open: int = 0
    undertaken_done: int = 0
    undertaken_open: int = 0
    undertaken_on_time: int = 0
    feedback: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ratings.LEVELS, 0))

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率: completed on or before the due date, over all completed (None when none)."""
        return self.on_time / self.completed if self.completed else None

    @property
    def instant(self) -> int:
        """即办件: immediate items received and not refused or withdrawn."""
        return self.instant_done + self.instant_open

    @property
    def instant_all_done(self) -> bool:
        """The centre's “即办件全部办结”."""
        return self.instant_open == 0

    @property
    def undertaken(self) -> int:
        """承办件 = 已办结 + 正在办理 (processed items, refused and withdrawn ones not counted)."""
        return self.undertaken_done + self.undertaken_open

    @property
    def undertaken_on_time_rate(self) -> float | None:
        """按时办结率 as the centre reports it: 承办件 completed by their due date, over 承办件 completed."""
        return self.undertaken_on_time / self.undertaken_done if self.undertaken_done else None

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
            "key": self.key,
            "label": self.label,
            "handled": self.handled,
            "immediate": self.immediate,
            "processed": self.processed,
            "completed": self.completed,
            "on_time": self.on_time,
            "late": self.late,
            "in_progress": self.in_progress,
            "refused": self.refused,
            "withdrawn": self.withdrawn,
            "overdue_open": self.overdue_open,
            "instant": self.instant,
            "instant_done": self.instant_done,
            "instant_open": self.instant_open,
            "undertaken": self.undertaken,
            "undertaken_done": self.undertaken_done,
            "undertaken_open": self.undertaken_open,
            "undertaken_on_time": self.undertaken_on_time,
            "undertaken_on_time_rate": self.undertaken_on_time_rate,
            "on_time_rate": self.on_time_rate,
            "avg_workdays": self.avg_workdays,
            **{ratings.KEYS[level]: n for level, n in self.feedback.items()},
            "satisfaction_rate": self.satisfaction_rate,
        }


def measure(row: CaseRow, cal: WorkCalendar, today: date) -> tuple[int, bool]:
    """What takes the calendar to know of a case: working days it took (补正 pauses excluded) if it is
    completed, whether it is overdue if it is open. Worked out once per case, counted into every line."""
    if row.state in COMPLETED and row.closed_on is not None:
        return max(cal.workdays_between(row.received_on, row.closed_on) - row.paused_days, 0), False
    if row.state in states.TERMINAL:
        return 0, False
    # The one overdue rule (shared.workdays.case_clock), as the queue and the sweep apply it.
    return 0, case_clock(
        cal,
        closed=False,
        start=row.clock_start or row.received_on,
        deadline=row.deadline,
        paused_days=row.paused_days or 0,
        paused_since=row.paused_since,
        today=today,
        passed_up=with_county(row.state),
    ).overdue


def add(fig: Figures, row: CaseRow, cal: WorkCalendar, today: date, measured: tuple[int, bool] | None = None) -> None:
    """Count one case into a line of figures."""
    workdays, overdue = measured or measure(row, cal, today)
    fig.handled += 1
    instant = row.mode == "immediate"
    if instant:
        fig.immediate += 1
    else:
        fig.processed += 1
    if row.state in COMPLETED and row.closed_on is not None:
        fig.completed += 1
        on_time = row.deadline is None or row.closed_on <= row.deadline
        if on_time:
            fig.on_time += 1
        else:
            fig.late += 1
        if instant:
            fig.instant_done += 1
        else:
            fig.undertaken_done += 1
            fig.undertaken_on_time += on_time
        fig.workdays_total += workdays
    elif row.state == states.REFUSED:
        fig.refused += 1
    elif row.state in (states.WITHDRAWN, states.INVALID):
        fig.withdrawn += 1
    else:
        # Open work, 待补正 included: the centre counts it as 正在办理 until it is decided.
        fig.in_progress += 1
        if instant:
            fig.instant_open += 1
        else:
            fig.undertaken_open += 1
        fig.overdue_open += overdue
    level = ratings.level_of(row.satisfaction)
    if level is not None:
        fig.feedback[level] += 1


def summarise(rows: Iterable[CaseRow], cal: WorkCalendar, today: date) -> Figures:
    """The totals over all rows."""
    return tally(rows, cal, today, ())[0]


KEYS: dict[str, Callable[[CaseRow], str]] = {
    "window": lambda r: r.window,
    "village": lambda r: r.village,
    "item": lambda r: r.item_code,
    "month": lambda r: r.received_on.strftime("%Y-%m"),
    "staff": lambda r: r.staff or UNASSIGNED,
    "source": lambda r: r.source,
}


def tally(
    rows: Iterable[CaseRow],
    cal: WorkCalendar,
    today: date,
    groups: Iterable[str],
    labels: dict[str, dict[str, str]] | None = None,
) -> tuple[Figures, dict[str, list[Figures]]]:
    """The totals and one line per key of each grouping, in key order, in one pass over the rows."""
    groups = list(groups)
    for by in groups:
        if by not in KEYS:
            raise ValueError(f"unknown grouping: {by}")
    total = Figures(key="total", label=N_("合计"))
    lines: dict[str, dict[str, Figures]] = {by: {} for by in groups}
    for row in rows:
        measured = measure(row, cal, today)
        add(total, row, cal, today, measured)
        for by in groups:
            key = KEYS[by](row)
            fig = lines[by].get(key)
            if fig is None:
                name = (labels or {}).get(by, {}).get(key, key)
                fig = lines[by][key] = Figures(key=key, label=name)
            add(fig, row, cal, today, measured)
    return total, {by: [found[k] for k in sorted(found)] for by, found in lines.items()}


def grouped(
    rows: Iterable[CaseRow], by: str, cal: WorkCalendar, today: date, labels: dict[str, str] | None = None
) -> list[Figures]:
    """One line per window, village, item, month, staff member or source, in key order."""
    return tally(rows, cal, today, (by,), {by: labels or {}})[1][by]


def load_rows(start: date | None = None, end: date | None = None) -> list[CaseRow]:
    """Cases received between start and end (inclusive), as rows for the figures."""
    # Only the columns the figures use, as tuples: a year of cases loads without building models.
    query = (
        Case.select(
            Case.item_code,
            Case.window,
            Village.name,
            Case.mode,
            Case.state,
            Case.received_on,
            Case.deadline,
            Case.closed_at,
            Case.paused_days,
            Case.satisfaction,
            Case.paused_since,
            Case.clock_start,
            Case.source,
            Case.assignee,
            Case.received_by,
        )
        .join(Village)
        .tuples()
    )
    if start:
        query = query.where(Case.received_on >= start)
    if end:
        query = query.where(Case.received_on <= end)
    return [
        CaseRow(
            item_code=item,
            window=window,
            village=village,
            mode=mode,
            state=state,
            received_on=received,
            deadline=deadline,
            closed_on=china_date(closed) if closed else None,
            paused_days=paused,
            satisfaction=satisfaction,
            paused_since=paused_since,
            clock_start=clock_start,
            source=source or "village",
            staff=assignee or received_by,
        )
        for (
            item,
            window,
            village,
            mode,
            state,
            received,
            deadline,
            closed,
            paused,
            satisfaction,
            paused_since,
            clock_start,
            source,
            assignee,
            received_by,
        ) in query
    ]


# The report's columns, in the centre's order: its own categories first, then what supervision adds.
COLUMNS: list[tuple[str, str]] = [
    ("label", N_("名称")),
    ("handled", N_("接待（收件）")),
    ("instant", N_("即办件")),
    ("instant_done", N_("即办件已办结")),
    ("undertaken", N_("承办件")),
    ("undertaken_done", N_("已办结")),
    ("undertaken_open", N_("正在办理")),
    ("refused", N_("不予受理")),
    ("withdrawn", N_("撤回/退回")),
    ("undertaken_on_time_rate", N_("按时办结率")),
    ("late", N_("超时办结")),
    ("avg_workdays", N_("平均办结工作日")),
    ("overdue_open", N_("在办超期")),
    *((key, level) for level, key in ratings.KEYS.items()),
    ("satisfaction_rate", N_("满意率")),
]
RATE_COLUMNS = frozenset(k for k, _ in COLUMNS if k.endswith("_rate"))

# A date typed on a form or a command line: YYYY-MM-DD, in years a township's records can hold.
DATE_LENGTH = 10
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class PeriodError(ValueError):
    """A report period or grouping that cannot be used, with the Chinese message to show."""


def _parse_day(raw: str | None, label: str) -> date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text[: DATE_LENGTH + 1])
        # fromisoformat also takes 20250131 and week dates (2025-W05-1): only YYYY-MM-DD reads back as typed.
        if day.isoformat() != text:
            raise ValueError(text)
    except ValueError:
        raise PeriodError(N_("%(end)s日期格式应为 YYYY-MM-DD，例如 2026-05-01", end=label)) from None
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(
            N_("%(end)s日期应在 %(first)d 年至 %(last)d 年之间", end=label, first=EARLIEST.year, last=LATEST.year)
        )
    return day


def parse_period(raw_from: str | None, raw_to: str | None) -> tuple[date | None, date | None]:
    """The period asked for (either end may be open); PeriodError when it makes no sense."""
    start, end = _parse_day(raw_from, N_("开始")), _parse_day(raw_to, N_("结束"))
    if start and end and start > end:
        raise PeriodError(N_("开始日期不能晚于结束日期"))
    return start, end


GROUP_CHOICE = N_("%(name)s（%(key)s）")


def check_group(by: str) -> str:
    """A grouping the report knows; PeriodError otherwise."""
    if by not in GROUPS:
        raise PeriodError(
            N_(
                "分组只能是：%(groups)s",
                groups=listed([N_(GROUP_CHOICE, name=name, key=key) for key, name in GROUPS.items()]),
            )
        )
    return by


def refused(actor: str, reason: str, asked: dict[str, str | None]) -> None:
    """Audit a report request that was refused (what was typed, cut short, and why)."""
    audit.record(
        actor, "figures.refused", "figures", {"reason": reason, **{k: (v or "")[:40] for k, v in asked.items()}}
    )


def labels(by: str) -> dict[str, str]:
    """Display names for the group keys: window and item names from the catalogue, staff names, sources."""
    if by == "window":
        return {w["code"]: f"{w['code']} {w['name']}" for w in current_catalogue().windows()}
    if by == "item":
        return {i["code"]: f"{i['code']} {i['name']}" for i in current_catalogue().items(include_inactive=True)}
    if by == "staff":
        return {s.username: s.name for s in Staff.select(Staff.username, Staff.name)}
    if by == "source":
        return dict(SOURCES)
    return {}


@dataclass
class Report:
    """The centre's report for one period: the totals and every breakdown."""

    start: date | None
    end: date | None
    total: Figures
    groups: dict[str, list[Figures]]

    @property
    def period(self) -> str:
        """The period as the title of the report says it (marked: said in the reader's language by `tr`)."""
        if not self.start and not self.end:
            return N_("全部日期")
        return N_("%(start)s 至 %(end)s", start=str(self.start or N_("最早")), end=str(self.end or N_("今天")))


def build_report(start: date | None, end: date | None, on: date | None = None) -> Report:
    """The one report: cases received in [start, end], totals and per window, village, item, month,
    staff member and source, with each line labelled as staff call it."""
    names = {by: labels(by) for by in GROUPS}
    total, groups = tally(load_rows(start, end), calendar(), on or today(), GROUPS, names)
    # Every window of the catalogue has its line, a window that received nothing too (考核 sees it).
    seen = {f.key for f in groups["window"]}
    groups["window"] += [Figures(key=code, label=name) for code, name in names["window"].items() if code not in seen]
    groups["window"].sort(key=lambda f: f.key)
    return Report(start=start, end=end, total=total, groups=groups)


def percent(value: float | None) -> str:
    """A rate as the township writes it ("50.0%"), or a dash when there is nothing to rate."""
    return "—" if value is None else f"{value * 100:.1f}%"
