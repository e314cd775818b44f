"""What the supervisor must see of the centre's promises: 一次告知 kept, 补正 notices on time, extensions, calendar.

One query per fact, read by the dashboard and by `daiban hub doctor`; the rules themselves live in
hub.deadlines and hub.cases.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _

from shared import states

from . import deadlines
from .clock import today
from .models import AuditEntry, Case, Extension


def calendar_warning(on: date | None = None) -> str | None:
    """A sentence for staff when running cases or the next 90 days reach a year no calendar covers."""
    gaps = deadlines.calendar_gaps(on=on)
    if not gaps:
        return None
    return _(
        "工作日历未覆盖 %(years)s 年：法定节假日数据包和本镇自设节假日都没有这一年，"
        "期限暂按周一至周五计算，可能不准。请在“节假日设置”中录入该年的节假日和调休上班日。",
        years=_("、").join(str(y) for y in gaps),
    )


def late_notices(on: date | None = None) -> list[Case]:
    """Open cases whose 补正 notice went out, or is still owed, later than five working days after receipt."""
    cal, on = deadlines.calendar(), on or today()
    open_cases = Case.select().where(Case.state.not_in(list(states.TERMINAL))).order_by(Case.received_at)
    return [c for c in open_cases if deadlines.notice_overdue(c, cal, on)]


def override_count() -> int:
    """How many second 补正 requests a supervisor has allowed (each an exception to 一次告知)."""
    return AuditEntry.select().where(AuditEntry.action == "case.materials_override").count()


def pending_extensions() -> list[dict[str, Any]]:
    """Extension requests waiting for a supervisor, oldest first, with their case."""
    out = []
    for ext in Extension.select().where(Extension.status == "pending").order_by(Extension.requested_at):
        case = Case.get_or_none(Case.request_id == ext.request_id)
        if case is not None:
            out.append({"ext": ext, "case": case})
    return out


def dashboard_facts() -> dict[str, Any]:
    """Everything the dashboard's promises panel shows."""
    return {
        "calendar_warning": calendar_warning(),
        "late_notices": late_notices(),
        "overrides": override_count(),
        "pending_extensions": pending_extensions(),
    }
