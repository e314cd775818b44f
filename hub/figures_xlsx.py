"""The centre's report as an Excel workbook: a summary sheet in the centre's words, then one sheet
per breakdown. Rates are numbers formatted as percent (so the township can sum and chart them),
counts are numbers, names go through shared.spreadsheet so none can run as a formula."""

from __future__ import annotations

import io
from typing import Any, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from shared.spreadsheet import display_width, text_cell

from .figures import COLUMNS, GROUPS, RATE_COLUMNS, Figures, Report

PERCENT = "0.0%"
DAYS = "0.0"
MIN_WIDTH, MAX_WIDTH = 6, 40


def _display_width(value: Any) -> int:
    """How many narrow columns a value takes in the sheet (a Chinese character takes two)."""
    return display_width(f"{value:.1%}" if isinstance(value, float) else str(value if value is not None else ""))


def size_columns(ws: Worksheet) -> None:
    """Widen each column to its longest cell, within bounds."""
    for column in ws.iter_cols():
        width = max((_display_width(c.value) for c in column), default=0) + 2
        ws.column_dimensions[column[0].column_letter].width = min(max(width, MIN_WIDTH), MAX_WIDTH)


def summary_rows(report: Report) -> list[tuple[str, Any]]:
    """The report's headline as the centre writes it: one category per line."""
    t = report.total
    return [
        ("统计期间", report.period),
        ("接待（收件）", t.handled),
        ("即办件", t.instant),
        ("即办件已办结", t.instant_done),
        ("即办件是否全部办结", "是" if t.instant_all_done else f"否（{t.instant_open} 件未办结）"),
        ("承办件", t.undertaken),
        ("已办结", t.undertaken_done),
        ("正在办理", t.undertaken_open),
        ("不予受理", t.refused),
        ("撤回/退回", t.withdrawn),
        ("按时办结率（承办件）", t.undertaken_on_time_rate),
    ]


def _line(fig: Figures) -> list[Any]:
    d = fig.as_dict()
    # Nothing to rate is a dash, not an empty cell or 0 %.
    return [text_cell("—" if d[key] is None and key != "label" else d[key]) for key, _ in COLUMNS]


def _formats(ws: Worksheet, first_row: int) -> None:
    for index, (key, _) in enumerate(COLUMNS, start=1):
        fmt = PERCENT if key in RATE_COLUMNS else DAYS if key == "avg_workdays" else None
        if fmt:
            for (cell,) in ws.iter_rows(min_row=first_row, min_col=index, max_col=index):
                cell.number_format = fmt


def add_sheet(wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Worksheet:
    """A sheet with a bold header row, sized columns."""
    ws = wb.create_sheet(title)
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
    return ws


def workbook(report: Report) -> Workbook:
    """The summary sheet and one sheet per breakdown (按窗口, 按行政村, … 按来源), totals last."""
    wb = Workbook()
    wb.remove(wb.active)
    ws = add_sheet(wb, "中心报表", ["项目", "数值"], summary_rows(report))
    rate = ws.cell(ws.max_row, 2)
    rate.number_format = PERCENT
    if rate.value is None:
        rate.value = "—"
    size_columns(ws)
    for by, name in GROUPS.items():
        ws = add_sheet(
            wb, f"按{name}", [title for _, title in COLUMNS], [_line(fig) for fig in [*report.groups[by], report.total]]
        )
        _formats(ws, 2)
        size_columns(ws)
    return wb


def to_bytes(wb: Workbook) -> bytes:
    """The workbook as an .xlsx file's bytes."""
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
