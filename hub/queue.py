"""The window queue: which cases a person sees, in deadline order, with their colour."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared import states
from shared.catalogue import MODES, Catalogue
from shared.i18n import tr
from shared.msgid import N_
from shared.workdays import CLOSED, PAUSED, WAITING, WITH_COUNTY, WorkCalendar

from . import deadlines
from .models import Case, HubEvent, Staff, Village

COLOUR_LABELS = {
    "green": N_("正常"),
    "yellow": N_("临近期限"),
    "red": N_("已超期"),
    PAUSED: N_("补正中（计时暂停）"),
    WAITING: N_("待补正，尚未受理（补正期间不计时）"),
    WITH_COUNTY: N_("已报县级，等待县级批复"),
    CLOSED: N_("已终结"),
}


def visible_windows(user: Staff, catalogue: Catalogue) -> list[str]:
    """The windows a person may see: their own, or every window for supervisors and admins."""
    if user.role in ("supervisor", "admin"):
        return [w["code"] for w in catalogue.windows()]
    return [w["code"] for w in catalogue.windows() if w["code"] in (user.windows or [])]


def colour(case: Case, cal: WorkCalendar, today: date) -> str:
    """The queue line's tone: the shared rule's colour, or paused / waiting / closed when no deadline runs."""
    view = deadlines.clock(case, cal, today)
    if view.state == PAUSED and not view.overdue:
        return PAUSED
    return view.colour or view.state


def open_cases(
    windows: list[str], window: str | None = None, assignee: str | None = None, handed_to: str | None = None
) -> list[Case]:
    """Open cases of the windows, soonest deadline first (same-day items lead).

    With `handed_to`, also that person's own cases on other windows (handed over as B角, AB角).
    """
    mine = Case.window.in_(windows) | (Case.assignee == handed_to) if handed_to else Case.window.in_(windows)
    query = Case.select().where(mine & Case.state.not_in(list(states.TERMINAL)))
    if window:
        query = query.where(Case.window == window)
    if assignee:
        query = query.where(Case.assignee == assignee)
    rows = list(query)
    rows.sort(key=lambda c: (c.deadline or date.max, c.received_at))
    return rows


def closed_cases(windows: list[str], window: str | None = None, limit: int = 200) -> list[Case]:
    """The most recently closed cases of the windows."""
    query = Case.select().where(Case.window.in_(windows) & Case.state.in_(list(states.TERMINAL)))
    if window:
        query = query.where(Case.window == window)
    return list(query.order_by(Case.closed_at.desc()).limit(limit))


def rows(
    cases: list[Case], catalogue: Catalogue, cal: WorkCalendar, today: date, names: dict[str, str]
) -> list[dict[str, Any]]:
    """What each queue line shows."""
    villages = {v.id: v.name for v in Village.select(Village.id, Village.name)}
    active = {s.username for s in Staff.select(Staff.username).where(Staff.active == True)}
    supplemented = supplemented_ids([c.request_id for c in cases if c.state == states.RECEIVED])
    out = []
    for c in cases:
        item = catalogue.item(c.item_code) or {}
        view = deadlines.clock(c, cal, today)
        tone = colour(c, cal, today)
        out.append(
            {
                "case": c,
                "item_name": item.get("name", c.item_code),
                "window_name": catalogue.window_name(c.window),
                "village_name": villages.get(c.village_id, ""),
                "mode_label": tr(MODES.get(c.mode, c.mode)),
                "state_label": tr(states.label(c.state)),
                "colour": tone,
                "colour_label": tr(COLOUR_LABELS.get(tone, "")),
                "assignee_name": names.get(c.assignee or "", c.assignee or ""),
                "supplemented": c.request_id in supplemented,
                "due": view.due,
                "days_left": view.days_left,
                "notice_late": deadlines.notice_overdue(c, cal, today),
                # Nobody, or a closed account: no one is answering for this case.
                "orphan": not states.is_terminal(c.state) and c.assignee not in active,
            }
        )
    return out


def supplemented_ids(request_ids: list[str]) -> set[str]:
    """Which of these cases have had a 补正 arrive from the village (so staff look again)."""
    found: set[str] = set()
    for i in range(0, len(request_ids), 500):
        rows = HubEvent.select(HubEvent.request_id, HubEvent.body).where(
            HubEvent.request_id.in_(request_ids[i : i + 500]) & (HubEvent.type == "case.status")
        )
        found.update(r.request_id for r in rows if r.body.get("action") == "supplemented")
    return found


def staff_names() -> dict[str, str]:
    """Username to display name for everyone."""
    return {s.username: s.name for s in Staff.select(Staff.username, Staff.name)}
