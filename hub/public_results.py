"""办件结果公示 (GET /results): recent decisions made public, per item and village.

Only five things per line, by design: masked name (王**), village, item, decision and date.
No receipt code, ID, phone, window staff or reason is shown, so the page reveals nothing a
notice board at the village would not; it can be filtered by item and village but not by name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, make_response, render_template, request

from shared import ratings as shared_ratings
from shared import states
from shared.validation import mask_name

from . import ratings
from .catalogue_store import current as current_catalogue
from .clock import china_date, now, today
from .models import Case, Rating, Village
from flask_babel import gettext as _

bp = Blueprint("public_results", __name__)

# Decisions that are published: done (either way) and not accepted. Withdrawals are the villager's own.
PUBLISHED = (states.APPROVED, states.DENIED, states.REFUSED, states.COUNTY_APPROVED, states.COUNTY_DENIED)
DEFAULT_DAYS = 90
MAX_ROWS = 500


def recent_results(item: str = "", village: str = "", days: int | None = None) -> list[dict[str, Any]]:
    """The published lines, newest first, each holding only masked name, village, item, decision, date."""
    days = days or int(current_app.config.get("RESULTS_DAYS", DEFAULT_DAYS))
    cat = current_catalogue()
    query = (
        Case.select(Case.applicant_name, Village.name, Case.item_code, Case.state, Case.closed_at)
        .join(Village)
        .where(Case.state.in_(PUBLISHED) & (Case.closed_at >= now() - timedelta(days=days)))
        .order_by(Case.closed_at.desc())
        .limit(MAX_ROWS)
    )
    if item:
        query = query.where(Case.item_code == item)
    if village:
        query = query.where(Village.name == village)
    out = []
    for name, village_name, item_code, state, closed_at in query.tuples():
        found = cat.item(item_code)
        out.append(
            {
                "name": mask_name(name),
                "village": village_name,
                "item": found["name"] if found else item_code,
                "decision": states.label(state),
                "date": china_date(closed_at),
            }
        )
    return out


def rating_totals() -> dict[str, Any]:
    """好差评 made public as counts only: ratings, share satisfied, 差评 and how many were put right."""
    rows = list(
        Rating.select(
            Rating.level, Rating.bad, Rating.state, Rating.callback_at, Rating.due, Rating.rated_on, Rating.rectified_on
        )
    )
    good = sum(1 for r in rows if r.level in shared_ratings.SATISFIED)
    return {"total": len(rows), "good_rate": good / len(rows) if rows else None, **ratings.bad_figures(rows, today())}


@bp.get("/results")
def results() -> Any:
    """The public list, optionally for one item and one village."""
    cat = current_catalogue()
    items = {i["code"]: i["name"] for i in cat.items(include_inactive=True)}
    villages = [v for (v,) in Village.select(Village.name).order_by(Village.name).tuples()]
    item = request.args.get("item", "")[:16]
    village = request.args.get("village", "")[:100]
    status = 200
    message = None
    if (item and item not in items) or (village and village not in villages):
        message, item, village, status = _("没有这个事项或行政村，已显示全部结果。"), "", "", 400
    rows = recent_results(item, village)
    resp = make_response(
        render_template(
            "public/results.html",
            rows=rows,
            items=items,
            villages=villages,
            item=item,
            village=village,
            ratings=rating_totals(),
            message=message,
            days=int(current_app.config.get("RESULTS_DAYS", DEFAULT_DAYS)),
        ),
        status,
    )
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
