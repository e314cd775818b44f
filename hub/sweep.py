"""The deadline sweep: recolour every open case and record when one turns yellow or red."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from shared import states
from shared.workdays import GREEN, RED, YELLOW

from . import deadlines, settings
from .clock import now, today as china_today
from .db import database
from .models import Case, CaseAlert


def open_cases() -> Any:
    """Cases still running (not refused, completed, withdrawn or invalid)."""
    return Case.select().where(Case.state.not_in(list(states.TERMINAL)))


def run_sweep(on: date | None = None) -> dict[str, int]:
    """Recompute urgency for open cases; returns counts per colour and how many newly turned."""
    on = on or china_today()
    cal = deadlines.calendar()
    counts = {"checked": 0, GREEN: 0, YELLOW: 0, RED: 0, "turned_yellow": 0, "turned_red": 0, "unclocked": 0}
    for case in list(open_cases()):
        view = deadlines.clock(case, cal, on)
        if view.colour is None:
            # Waiting for materials before 受理: no clock, so nothing to colour or alert.
            counts["unclocked"] += 1
            continue
        colour = view.colour
        counts["checked"] += 1
        counts[colour] += 1
        with database.atomic():
            if colour != case.urgency:
                # A narrow update, so a staff action committed meanwhile is not overwritten.
                Case.update(urgency=colour).where(
                    (Case.request_id == case.request_id) & Case.state.not_in(list(states.TERMINAL))
                ).execute()
            if (
                colour in (YELLOW, RED)
                and not CaseAlert.select()
                .where((CaseAlert.case == case.request_id) & (CaseAlert.level == colour))
                .exists()
            ):
                # The unique (case, level) key makes a second sweeper a no-op rather than a duplicate.
                CaseAlert.insert(
                    case=case.request_id, level=colour, at=now(), on_day=on, deadline=view.due
                ).on_conflict_ignore().execute()
                counts[f"turned_{colour}"] += 1
    record_last_sweep(on, counts)
    return counts


def record_last_sweep(on: date, counts: dict[str, int]) -> None:
    """Remember the last sweep, for the dashboard's footer."""
    value = json.dumps({"at": now().isoformat(timespec="seconds"), "on": on.isoformat(), **counts})
    settings.put("last_sweep", value)


def last_sweep() -> dict[str, Any] | None:
    """The last sweep's time and counts, or None if none has run."""
    value = settings.get("last_sweep")
    return json.loads(value) if value else None
