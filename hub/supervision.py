"""效能监督: the supervisor's dashboard, overdue and near-due lists, exports and the audit trail."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request
from openpyxl import Workbook

from shared import ratings, states
from shared.spreadsheet import text_row
from shared.validation import mask_name

from . import audit, audit_text, charts, deadlines, figures, promises
from .auth import login_required
from .catalogue_store import current as current_catalogue
from .clock import today
from .models import Case, Village
from .staff import display_name
from .sweep import last_sweep, open_cases

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

COLUMNS = [
    ("label", "名称"), ("handled", "受理总数"), ("immediate", "即办件"), ("processed", "承办件"),
    ("completed", "办结"), ("in_progress", "在办"), ("refused", "不予受理"), ("withdrawn", "撤回/退回"),
    ("on_time", "按时办结"), ("late", "超时办结"), ("on_time_rate", "按时办结率"),
    ("avg_workdays", "平均办结工作日"), ("overdue_open", "在办超期"),
    *((key, level) for level, key in ratings.KEYS.items()),
    ("satisfaction_rate", "满意率"),
]


class BadFilter(ValueError):
    """A filter the supervisor typed that cannot be used, with a Chinese message."""


def _date_arg(name: str, label: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(f"{label}日期格式应为 YYYY-MM-DD，例如 2026-05-01") from None


def filters() -> tuple[date | None, date | None, str]:
    """The period and grouping asked for; BadFilter when they make no sense."""
    start, end = _date_arg("from", "开始"), _date_arg("to", "结束")
    if start and end and start > end:
        raise BadFilter("开始日期不能晚于结束日期")
    by = request.args.get("by", "window")
    if by not in figures.GROUPS:
        raise BadFilter("分组只能是：窗口、行政村、事项或月份")
    return start, end, by


def labels_for(by: str) -> dict[str, str]:
    """Display names for the group keys (window and item names from the catalogue)."""
    cat = current_catalogue()
    if by == "window":
        return {w["code"]: f"{w['code']} {w['name']}" for w in cat.windows()}
    if by == "item":
        return {i["code"]: f"{i['code']} {i['name']}" for i in cat.items(include_inactive=True)}
    return {}


def report(rows: list[figures.CaseRow], by: str, cal: Any) -> tuple[figures.Figures, list[figures.Figures]]:
    """Totals and grouped lines over rows already loaded (one calendar, so each day is looked up once)."""
    on = today()
    return figures.summarise(rows, cal, on), figures.grouped(rows, by, cal, on, labels_for(by))


def watch_lists() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Open cases that are overdue (red) and near due (yellow), most urgent first.

    Coloured live rather than read from the last sweep, so the lists are right even if the
    scheduler has stopped (the dashboard shows when it last ran).
    """
    cal, on, cat = deadlines.calendar(), today(), current_catalogue()
    red, yellow = [], []
    for c in open_cases().select(Case, Village.name).join(Village).order_by(Case.deadline, Case.received_at):
        view = deadlines.clock(c, cal, on)
        if view.colour in (None, "green"):
            continue
        colour, due = view.colour, view.due
        item = cat.item(c.item_code)
        line = {
            "receipt_code": c.receipt_code, "item": item["name"] if item else c.item_code,
            "window": cat.window_name(c.window), "village": c.village.name, "applicant": mask_name(c.applicant_name),
            "assignee": display_name(c.assignee) if c.assignee else "未分配", "state": states.LABELS.get(c.state, c.state),
            "received_on": c.received_on, "due": due, "days": view.days_left,
        }
        (red if colour == "red" else yellow).append(line)
    return red, yellow


def _charts(total: figures.Figures, lines: list[figures.Figures], by: str, months: list[figures.Figures]) -> list[Any]:
    # Windows by name, as staff call them (W05 is the catalogue's code); items by their short code.
    names = {w["code"]: w["name"] for w in current_catalogue().windows()} if by == "window" else {}
    short = [names.get(ln.key, ln.label) if by == "window" else ln.key if by == "item" else ln.label
             for ln in lines]
    out = [
        charts.bar_chart(f"按{figures.GROUPS[by]}：受理件数", short, [ln.handled for ln in lines], unit="件"),
        charts.bar_chart(f"按{figures.GROUPS[by]}：按时办结率", short,
                         [None if ln.on_time_rate is None else round(ln.on_time_rate * 100, 1) for ln in lines],
                         unit="%", top=100, none_text="尚无办结"),
    ]
    if months:
        out.append(charts.line_chart("按月：受理与办结", [m.key for m in months],
                                     {"受理": [m.handled for m in months], "办结": [m.completed for m in months]},
                                     unit="件"))
    return out


@bp.get("/")
@login_required("supervisor")
def dashboard() -> Any:
    """The dashboard: totals, the chosen grouping as table and charts, and the watch lists' sizes."""
    try:
        start, end, by = filters()
    except BadFilter as exc:
        return render_template("supervision/dashboard.html", error=str(exc), total=None, lines=[], by="window",
                               groups=figures.GROUPS, columns=COLUMNS, charts=[], red=[], yellow=[],
                               period={}, sweep=last_sweep(), percent=figures.percent,
                               promises=promises.dashboard_facts()), 400
    rows, cal = figures.load_rows(start, end), deadlines.calendar()
    total, lines = report(rows, by, cal)
    months = figures.grouped(rows, "month", cal, today()) if by != "month" else lines
    red, yellow = watch_lists()
    return render_template(
        "supervision/dashboard.html", error=None, total=total, lines=lines, by=by, groups=figures.GROUPS,
        columns=COLUMNS, charts=_charts(total, lines, by, months), red=red, yellow=yellow,
        period={k: v.isoformat() for k, v in (("from", start), ("to", end)) if v},
        sweep=last_sweep(), percent=figures.percent, promises=promises.dashboard_facts(),
    )


@bp.get("/watch")
@login_required("supervisor")
def watch() -> Any:
    """Overdue and near-due cases, one table each."""
    red, yellow = watch_lists()
    return render_template("supervision/watch.html", red=red, yellow=yellow, sweep=last_sweep())


def _export_rows(rows: list[figures.CaseRow], by: str, cal: Any) -> tuple[list[str], list[list[Any]]]:
    total, lines = report(rows, by, cal)
    header = [title for _, title in COLUMNS]
    out = []
    for fig in [*lines, total]:
        d = fig.as_dict()
        out.append(text_row(_cell(k, d[k]) for k, _ in COLUMNS))
    return header, out


def _cell(key: str, value: Any) -> Any:
    if key.endswith("_rate"):
        return figures.percent(value)
    if key == "avg_workdays":
        return "—" if value is None else round(value, 1)
    return value


@bp.get("/export.csv")
@login_required("supervisor")
def export_csv() -> Any:
    """The report as CSV (UTF-8 with BOM so Excel opens the Chinese correctly)."""
    try:
        start, end, by = filters()
    except BadFilter as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    header, rows = _export_rows(figures.load_rows(start, end), by, deadlines.calendar())
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=figures-{by}.csv"})


@bp.get("/export.xlsx")
@login_required("supervisor")
def export_xlsx() -> Any:
    """The report as an Excel workbook: one sheet per grouping, plus the overdue and near-due lists."""
    try:
        start, end, _ = filters()
    except BadFilter as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    rows, cal = figures.load_rows(start, end), deadlines.calendar()
    sheets = {by: _export_rows(rows, by, cal) for by in figures.GROUPS}
    wb = Workbook()
    wb.remove(wb.active)
    for by, (header, rows) in sheets.items():
        ws = wb.create_sheet(f"按{figures.GROUPS[by]}")
        ws.append(header)
        for row in rows:
            ws.append(row)
    red, yellow = watch_lists()
    for title, items in (("超期", red), ("临近到期", yellow)):
        ws = wb.create_sheet(title)
        ws.append(["回执码", "事项", "窗口", "行政村", "申请人", "承办人", "状态", "接收日期", "到期日"])
        for it in items:
            ws.append(text_row([it["receipt_code"], it["item"], it["window"], it["village"], it["applicant"],
                                it["assignee"], it["state"], it["received_on"], it["due"]]))
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=figures.xlsx"})


@bp.get("/audit")
@login_required("supervisor")
def audit_log() -> Any:
    """The newest audit entries and whether the chain still holds."""
    action = request.args.get("action") or None
    checked, broken = audit.verify()
    return render_template("supervision/audit.html", entries=audit_text.sentences(audit.recent(300, action)),
                           checked=checked,
                           broken=broken, labels=audit.ACTION_LABELS, action=action)
