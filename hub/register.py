"""窗口服务事项受理登记册: the acceptance register as a page and as an .xlsx workbook."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any, BinaryIO

from flask import Blueprint, render_template, request, send_file

from shared import states
from shared.catalogue import Catalogue
from shared.receipt_codes import format_code
from shared.spreadsheet import text_cell, text_row

from . import queue
from .auth import current_user, login_required
from .catalogue_store import current as current_catalogue
from .clock import china_date, today
from .models import Case, HubEvent, Village
from flask_babel import gettext as _

bp = Blueprint("register", __name__)

TITLE = "窗口服务事项受理登记册"
COLUMNS = [
    ("no", "序号"),
    ("code", "回执码"),
    ("received", "收件日期"),
    ("applicant", "申请人"),
    ("phone", "联系电话"),
    ("village", "行政村"),
    ("item", "事项名称"),
    ("mode", "办件类型"),
    ("window", "窗口"),
    ("accepted", "受理日期"),
    ("deadline", "承诺办结日期"),
    ("state", "办理状态"),
    ("closed", "办结日期"),
    ("assignee", "承办人"),
    ("clerk", "代办员"),
    ("satisfaction", "满意度"),
]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Actions after which a case counts as accepted (即办件 are accepted and completed at once).
_ACCEPTING = {"accept", "approve", "deny"}


class RegisterError(ValueError):
    """A register request that cannot be answered, with a sentence for staff."""


def month_range(text: str) -> tuple[date, date]:
    """The first day of a YYYY-MM month and the first day of the next."""
    m = _MONTH.match(text or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise RegisterError(_("月份格式应为 YYYY-MM，例如 2026-10"))
    year, month = int(m.group(1)), int(m.group(2))
    start = date(year, month, 1)
    return start, date(year + month // 12, month % 12 + 1, 1)


def _accepted_on(request_ids: list[str]) -> dict[str, date]:
    out: dict[str, date] = {}
    for i in range(0, len(request_ids), 500):
        rows = (
            HubEvent.select(HubEvent.request_id, HubEvent.body, HubEvent.at)
            .where(HubEvent.request_id.in_(request_ids[i : i + 500]))
            .order_by(HubEvent.cseq)
        )
        for ev in rows:
            if ev.request_id not in out and ev.body.get("action") in _ACCEPTING:
                out[ev.request_id] = china_date(ev.at)
    return out


def entries(month: str, windows: list[str], catalogue: Catalogue) -> list[dict[str, Any]]:
    """The register's lines for cases received in a month at the given windows, in receipt order."""
    start, end = month_range(month)
    cases = list(
        Case.select()
        .where((Case.received_on >= start) & (Case.received_on < end) & Case.window.in_(windows))
        .order_by(Case.received_at)
    )
    accepted = _accepted_on([c.request_id for c in cases])
    villages = {v.id: v.name for v in Village.select(Village.id, Village.name)}
    names = queue.staff_names()
    out = []
    for n, c in enumerate(cases, 1):
        item = catalogue.item(c.item_code) or {}
        out.append(
            {
                "no": n,
                "code": format_code(c.receipt_code),
                "received": c.received_on,
                "applicant": c.applicant_name,
                "phone": c.phone,
                "village": villages.get(c.village_id, ""),
                "item": item.get("name", c.item_code),
                "mode": "即办件" if c.mode == "immediate" else "承办件",
                "window": catalogue.window_name(c.window),
                "accepted": accepted.get(c.request_id),
                "deadline": c.deadline,
                "state": states.label(c.state),
                "closed": china_date(c.closed_at) if c.closed_at else None,
                "assignee": names.get(c.assignee or "", c.assignee or ""),
                # 首问责任人: the village's clerk, or who took it at the counter.
                "clerk": c.clerk or (f"窗口收件：{names.get(c.received_by, c.received_by)}" if c.received_by else ""),
                "satisfaction": c.satisfaction or "",
            }
        )
    return out


def write_xlsx(lines: list[dict[str, Any]], title: str, out: BinaryIO | str) -> None:
    """The register as an .xlsx workbook (one sheet, a title row, then the header and lines)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "受理登记册"
    ws.append([text_cell(title)])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([label for _key, label in COLUMNS])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for line in lines:
        ws.append(text_row(line[key] for key, _label in COLUMNS))
    for col, width in zip("ABCDEFGHIJKLMNOP", (5, 13, 11, 9, 13, 10, 28, 8, 11, 11, 12, 14, 11, 9, 9, 8)):
        ws.column_dimensions[col].width = width
        for cell in ws[col][2:]:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.print_title_rows = "2:2"
    wb.save(out)


def title_for(month: str, window: str | None, catalogue: Catalogue) -> str:
    """The heading: register, month and window."""
    start, _end = month_range(month)
    where = f"（{catalogue.window_name(window)}窗口）" if window else ""
    return f"{TITLE}{where} {start.year}年{start.month}月"


def _params() -> tuple[str, str | None, list[str], Catalogue]:
    catalogue = current_catalogue()
    windows = queue.visible_windows(current_user(), catalogue)
    month = request.args.get("month") or today().strftime("%Y-%m")
    window = request.args.get("window") or None
    if window and window not in windows:
        raise RegisterError(_("您不负责该窗口，不能查看其登记册"))
    return month, window, [window] if window else windows, catalogue


def _register() -> tuple[str, str | None, list[Any], str, Any]:
    """(month, window, lines, title, catalogue) for the request's filters; RegisterError when refused."""
    month, window, windows, catalogue = _params()
    return month, window, entries(month, windows, catalogue), title_for(month, window, catalogue), catalogue


@bp.get("/console/register")
@login_required()
def page() -> Any:
    """The register on screen, filterable by window and month, printable on A4 landscape."""
    try:
        month, window, lines, title, catalogue = _register()
    except RegisterError as exc:
        return render_template("console/error.html", title=_("无法显示登记册"), message=str(exc)), 400
    all_windows = [catalogue.window(w) for w in queue.visible_windows(current_user(), catalogue)]
    return render_template(
        "console/register.html",
        lines=lines,
        columns=COLUMNS,
        title=title,
        month=month,
        window=window,
        windows=all_windows,
    )


@bp.get("/console/register.xlsx")
@login_required()
def export() -> Any:
    """The same register as an .xlsx download."""
    try:
        month, window, lines, title, _total = _register()
    except RegisterError as exc:
        return render_template("console/error.html", title=_("无法导出登记册"), message=str(exc)), 400
    buf = io.BytesIO()
    write_xlsx(lines, title, buf)
    buf.seek(0)
    name = f"register-{month}{'-' + window if window else ''}.xlsx"
    return send_file(
        buf,
        as_attachment=True,
        download_name=name,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
