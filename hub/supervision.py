"""效能监督: the supervisor's dashboard, overdue and near-due lists, exports and the audit trail."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Blueprint, Response, g, render_template, request

from shared import states
from shared.spreadsheet import text_row
from shared.validation import mask_name

from . import audit, audit_text, charts, deadlines, figures, promises
from .auth import login_required
from .catalogue_store import current as current_catalogue
from .clock import today
from .models import Case, Village
from .staff import display_name
from .sweep import last_sweep, open_cases
from flask_babel import gettext as _

from shared.i18n import tr

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

COLUMNS = figures.COLUMNS


def filters() -> tuple[date | None, date | None, str]:
    """The period and grouping asked for; PeriodError (audited) when they make no sense."""
    asked = {"from": request.args.get("from"), "to": request.args.get("to"), "by": request.args.get("by")}
    try:
        start, end = figures.parse_period(asked["from"], asked["to"])
        return start, end, figures.check_group(asked["by"] or "window")
    except figures.PeriodError as exc:
        figures.refused(g.user.username, str(exc), asked)
        raise


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
            "receipt_code": c.receipt_code,
            "item": item["name"] if item else c.item_code,
            "window": cat.window_name(c.window),
            "village": c.village.name,
            "applicant": mask_name(c.applicant_name),
            "assignee": display_name(c.assignee) if c.assignee else _("未分配"),
            "state": tr(states.LABELS.get(c.state, c.state)),
            "received_on": c.received_on,
            "due": due,
            "days": view.days_left,
        }
        (red if colour == "red" else yellow).append(line)
    return red, yellow


def _charts(lines: list[figures.Figures], by: str, months: list[figures.Figures]) -> list[Any]:
    # Windows by name, as staff call them (W05 is the catalogue's code); items by their short code.
    names = {w["code"]: w["name"] for w in current_catalogue().windows()} if by == "window" else {}
    short = [names.get(ln.key, ln.label) if by == "window" else ln.key if by == "item" else ln.label for ln in lines]
    # The rate chart leaves out windows that received nothing in the period (the count chart and the
    # table still show them); one that received cases but completed no 承办件 gets no bar and the reason.
    worked = [(name, ln) for name, ln in zip(short, lines) if ln.handled]
    out = [
        charts.bar_chart(
            _("按%(by)s：接待件数", by=tr(figures.GROUPS[by])), short, [ln.handled for ln in lines], unit=_("件")
        ),
        charts.bar_chart(
            _("按%(by)s：按时办结率（承办件）", by=tr(figures.GROUPS[by])),
            [name for name, _line in worked],
            [
                None if ln.undertaken_on_time_rate is None else round(ln.undertaken_on_time_rate * 100, 1)
                for _name, ln in worked
            ],
            unit="%",
            top=100,
            none_text=_("尚无办结"),
        ),
    ]
    if months:
        out.append(
            charts.line_chart(
                _("按月：接待与办结"),
                [m.key for m in months],
                {_("接待"): [m.handled for m in months], _("办结"): [m.completed for m in months]},
                unit=_("件"),
            )
        )
    return out


def _page(status: int = 200, **context: Any) -> Any:
    base = dict(
        error=None,
        report=None,
        total=None,
        lines=[],
        by="window",
        groups=figures.GROUPS,
        columns=COLUMNS,
        charts=[],
        red=[],
        yellow=[],
        period={},
        sweep=last_sweep(),
        percent=figures.percent,
        promises=promises.dashboard_facts(),
    )
    return render_template("supervision/dashboard.html", **{**base, **context}), status


@bp.get("/")
@login_required("supervisor")
def dashboard() -> Any:
    """The centre's report for the period: its categories, the chosen breakdown as table and charts."""
    try:
        start, end, by = filters()
    except figures.PeriodError as exc:
        return _page(400, error=tr(exc.args[0]))
    rep = figures.build_report(start, end)
    lines = rep.groups[by]
    red, yellow = watch_lists()
    return _page(
        report=rep,
        total=rep.total,
        lines=lines,
        by=by,
        charts=_charts(lines, by, rep.groups["month"]),
        red=red,
        yellow=yellow,
        period={k: v.isoformat() for k, v in (("from", start), ("to", end)) if v},
        sources=rep.groups["source"],
    )


@bp.get("/watch")
@login_required("supervisor")
def watch() -> Any:
    """Overdue and near-due cases, one table each."""
    red, yellow = watch_lists()
    return render_template("supervision/watch.html", red=red, yellow=yellow, sweep=last_sweep())


def _export_rows(lines: list[figures.Figures], total: figures.Figures) -> tuple[list[str], list[list[Any]]]:
    header = [tr(title) for _key, title in COLUMNS]
    out = []
    for fig in [*lines, total]:
        d = fig.as_dict()
        out.append(text_row(_cell(k, d[k]) for k, _title in COLUMNS))
    return header, out


def _cell(key: str, value: Any) -> Any:
    if key in figures.RATE_COLUMNS:
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
    except figures.PeriodError as exc:
        return Response(tr(exc.args[0]), status=400, mimetype="text/plain")
    rep = figures.build_report(start, end)
    header, rows = _export_rows(rep.groups[by], rep.total)
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=figures-{by}.csv"},
    )


@bp.get("/export.xlsx")
@login_required("supervisor")
def export_xlsx() -> Any:
    """The centre's report as an Excel workbook (as `daiban hub figures --xlsx`), plus the watch lists."""
    # openpyxl takes longer to import than the rest of the hub: every hub process (each CLI command)
    # paid for it at start-up; only this export needs it.
    from . import figures_xlsx

    try:
        start, end, _group = filters()
    except figures.PeriodError as exc:
        return Response(tr(exc.args[0]), status=400, mimetype="text/plain")
    wb = figures_xlsx.workbook(figures.build_report(start, end))
    red, yellow = watch_lists()
    for title, items in ((_("超期"), red), (_("临近到期"), yellow)):
        ws = figures_xlsx.add_sheet(
            wb,
            title,
            [
                _("回执码"),
                _("事项"),
                _("窗口"),
                _("行政村"),
                _("申请人"),
                _("承办人"),
                _("状态"),
                _("接收日期"),
                _("到期日"),
            ],
            (
                text_row(
                    [
                        it["receipt_code"],
                        it["item"],
                        it["window"],
                        it["village"],
                        it["applicant"],
                        it["assignee"],
                        it["state"],
                        it["received_on"],
                        it["due"],
                    ]
                )
                for it in items
            ),
        )
        figures_xlsx.size_columns(ws)
    return Response(
        figures_xlsx.to_bytes(wb),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=figures.xlsx"},
    )


@bp.get("/audit")
@login_required("supervisor")
def audit_log() -> Any:
    """The newest audit entries and whether the chain still holds."""
    action = request.args.get("action") or None
    checked, broken = audit.verify()
    return render_template(
        "supervision/audit.html",
        entries=audit_text.sentences(audit.recent(300, action)),
        checked=checked,
        broken=broken,
        labels=audit.ACTION_LABELS,
        action=action,
    )
