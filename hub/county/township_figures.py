"""At a county hub: the townships' daily figures added up per township, per item and per month.

Received, closed and closed on time are counts of days and add up over a period. Overdue is a
count at a day's end, so a period shows each township's last reported day in it (adding the days
would count one overdue case once per day it stayed overdue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.msgid import N_

from ..catalogue_store import current as current_catalogue
from ..models import TownshipFigures, Village

GROUPS = {"township": N_("乡镇"), "item": N_("事项"), "month": N_("月份")}


@dataclass
class Line:
    """One line of the county's figures."""

    key: str
    label: str
    received: int = 0
    closed: int = 0
    on_time: int = 0
    overdue: int = 0

    @property
    def on_time_rate(self) -> float | None:
        """Closed by their due date, of all closed (None before the first)."""
        return self.on_time / self.closed if self.closed else None


@dataclass
class CountyFigures:
    """The totals and one list of lines per grouping."""

    total: Line
    groups: dict[str, list[Line]]
    townships: int


def build(start: date | None, end: date | None) -> CountyFigures:
    """Sum what the townships reported for the days in [start, end] (either end open)."""
    query = (
        TownshipFigures.select(
            Village.name,
            TownshipFigures.day,
            TownshipFigures.item_code,
            TownshipFigures.received,
            TownshipFigures.closed,
            TownshipFigures.on_time,
            TownshipFigures.overdue,
        )
        .join(Village)
        .tuples()
    )
    if start:
        query = query.where(TownshipFigures.day >= start)
    if end:
        query = query.where(TownshipFigures.day <= end)
    rows = list(query)
    last_day: dict[str, date] = {}
    for township, day, *_ in rows:
        last_day[township] = max(day, last_day.get(township, day))
    catalogue = current_catalogue()
    total = Line(key="total", label=N_("合计"))
    found: dict[str, dict[str, Line]] = {by: {} for by in GROUPS}
    for township, day, item_code, received, closed, on_time, overdue in rows:
        keys = {"township": township, "item": item_code, "month": day.strftime("%Y-%m")}
        labels = {**keys, "item": (catalogue.item(item_code) or {}).get("name", item_code)}
        still_overdue = overdue if day == last_day[township] else 0
        for line in [total, *(_line(found[by], keys[by], labels[by]) for by in GROUPS)]:
            line.received += received
            line.closed += closed
            line.on_time += on_time
            line.overdue += still_overdue
    groups = {by: [lines[k] for k in sorted(lines)] for by, lines in found.items()}
    return CountyFigures(total=total, groups=groups, townships=len(last_day))


def _line(lines: dict[str, Line], key: str, label: str) -> Line:
    if key not in lines:
        lines[key] = Line(key=key, label=label)
    return lines[key]


def workbook(figures: CountyFigures, header: list[str], titles: dict[str, str]) -> Any:
    """One sheet per grouping, totals last, rates as percent numbers (header and titles already translated)."""
    from openpyxl import Workbook

    from shared.spreadsheet import text_cell

    from ..figures_xlsx import PERCENT, add_sheet, size_columns

    wb = Workbook()
    wb.remove(wb.active)
    for by, lines in figures.groups.items():
        rows = [
            [text_cell(line.label), line.received, line.closed, line.on_time, line.on_time_rate, line.overdue]
            for line in [*lines, figures.total]
        ]
        ws = add_sheet(wb, titles[by], header, rows)
        for (cell,) in ws.iter_rows(min_row=2, min_col=5, max_col=5):
            cell.number_format = PERCENT
            if cell.value is None:
                cell.value = "—"
        size_columns(ws)
    return wb
