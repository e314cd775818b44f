"""The township's own holidays and make-up working days, for years the statutory calendar does not know.

Changing the calendar moves the due dates of running cases whose time span it touches: a case
keeps its number of working days, counted again on the new calendar, and the village is told.
Cases waiting for materials are left alone; their due date is recounted when the clock restarts.
"""

from __future__ import annotations

import json
from datetime import date

from shared import states
from shared.workdays import WorkCalendar

from . import audit, cases, deadlines, settings
from .catalogue_store import current as current_catalogue
from .db import database
from .deadlines import day_set
from .models import Case, HubEvent
from flask_babel import gettext as _

MIN_YEAR, MAX_YEAR = 2000, 2100
# What the village last heard about a case and must not lose when only the due date changes.
_KEPT = ("reason", "legal_basis", "note")


def _store(key: str, days: set[date]) -> None:
    value = json.dumps(sorted(d.isoformat() for d in days))
    settings.put(key, value)


def reschedule(old: WorkCalendar, new: WorkCalendar, day: date, actor: str) -> int:
    """Recount the due date of running cases whose span (received, due] covers `day`; returns how many moved."""
    catalogue = current_catalogue()
    moved = 0
    query = Case.select().where(
        Case.state.not_in(list(states.TERMINAL))
        & Case.paused_since.is_null()
        & Case.deadline.is_null(False)
        # Only a day inside (received, due] changes which day is the Nth working day.
        & (Case.received_on < day)
        & (Case.deadline >= day)
    )
    for case in list(query):
        begun = deadlines.clock_start(case)
        due = new.add_workdays(begun, old.workdays_between(begun, case.deadline))
        if due == case.deadline:
            continue
        node = cases.lock_node(case.node_id)
        Case.update(deadline=due).where(Case.request_id == case.request_id).execute()
        case.deadline = due
        last = HubEvent.select().where(HubEvent.request_id == case.request_id).order_by(HubEvent.cseq.desc()).first()
        kept = {k: last.body.get(k) for k in _KEPT} if last is not None else {}
        cases.announce(node, case, actor, catalogue, action="deadline_moved", **kept)
        moved += 1
    return moved


def change_calendar(day_text: str, kind: str, op: str, actor: str) -> str:
    """Add or remove an extra holiday or make-up working day; returns what was done, ValueError if not."""
    if kind not in ("holiday", "workday") or op not in ("add", "remove"):
        raise ValueError(_("请求无效"))
    try:
        day = date.fromisoformat(day_text.strip())
    except ValueError:
        raise ValueError(_("日期格式应为 YYYY-MM-DD，例如 2027-02-08")) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(_("日期年份应在 %(MIN_YEAR)s 到 %(MAX_YEAR)s 之间", MIN_YEAR=MIN_YEAR, MAX_YEAR=MAX_YEAR))
    label = _("节假日") if kind == "holiday" else _("调休上班日")
    with database.atomic():
        old = deadlines.calendar()
        holidays, workdays = day_set("extra_holidays"), day_set("extra_workdays")
        mine, other = (holidays, workdays) if kind == "holiday" else (workdays, holidays)
        if op == "add":
            if day in other:
                raise ValueError(
                    _(
                        "%(day)s 已设为%(other)s，请先删除",
                        day=day,
                        other=_("调休上班日") if kind == "holiday" else _("节假日"),
                    )
                )
            if day in mine:
                raise ValueError(_("%(day)s 已经是%(label)s", day=day, label=label))
            mine.add(day)
        else:
            if day not in mine:
                raise ValueError(_("%(day)s 不在%(label)s列表中", day=day, label=label))
            mine.discard(day)
        _store("extra_holidays", holidays)
        _store("extra_workdays", workdays)
        moved = reschedule(old, deadlines.calendar(), day, actor)
        audit.record(actor, "calendar.edit", day.isoformat(), {"kind": kind, "op": op, "moved": moved})
    done = (
        _("已添加%(label)s %(day)s", label=label, day=day)
        if op == "add"
        else _("已删除%(label)s %(day)s", label=label, day=day)
    )
    return done + (_("；%(moved)s 件在办申请的到期日已相应调整", moved=moved) if moved else "")
