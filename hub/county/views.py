"""The county hub's own page: the cases the townships passed up, waiting for the county's answer, by deadline.

Each line opens the ordinary case page, where county staff answer with the 县级批复 form
(hub/county_views.py → hub/cases.record_county_answer); the answer goes back to the township on its
next sync. Only a county hub has this page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from shared.i18n import tr

from .. import queue as console_queue
from ..auth import current_user, login_required
from ..catalogue_store import current as current_catalogue
from . import level, township_figures
from .township_figures import GROUPS
from .queue import waiting

bp = Blueprint("county", __name__)


@bp.get("/county/")
@login_required()
def queue_page() -> Any:
    """Passed-up cases of the windows the person covers (every window for supervisors), most urgent first."""
    if not level.is_county():
        abort(404, description=_("本中心不是县级中心"))
    user = current_user()
    assert user is not None  # login_required
    windows = set(console_queue.visible_windows(user, current_catalogue()))
    rows = [w for w in waiting() if w.case.window in windows]
    return render_template("county/queue.html", rows=rows)


def _period() -> tuple[Any, Any]:
    """The period asked for; figures.PeriodError (audited, as the township's report does) when it makes no sense."""
    from .. import figures

    asked = {"from": request.args.get("from"), "to": request.args.get("to"), "by": None}
    try:
        return figures.parse_period(asked["from"], asked["to"])
    except figures.PeriodError as exc:
        user = current_user()
        figures.refused(user.username if user else "", str(exc), asked)
        raise


@bp.get("/county/figures")
@login_required("supervisor")
def figures_page() -> Any:
    """The townships' figures per township, item and month, for a period (the county's supervisors)."""
    from .. import figures

    if not level.is_county():
        abort(404, description=_("本中心不是县级中心"))
    try:
        start, end = _period()
    except figures.PeriodError as exc:
        return render_template("county/figures.html", error=tr(exc.args[0]), report=None, groups=GROUPS), 400
    return render_template(
        "county/figures.html",
        error=None,
        report=township_figures.build(start, end),
        groups=GROUPS,
        percent=figures.percent,
    )


@bp.get("/county/figures.xlsx")
@login_required("supervisor")
def figures_export() -> Any:
    """The same figures as an Excel workbook, one sheet per grouping."""
    from .. import figures
    from ..figures_xlsx import to_bytes

    if not level.is_county():
        abort(404, description=_("本中心不是县级中心"))
    try:
        start, end = _period()
    except figures.PeriodError as exc:
        return Response(tr(exc.args[0]), status=400, mimetype="text/plain")
    header = [_("名称"), _("收件"), _("办结"), _("按时办结"), _("按时办结率"), _("超期未办结")]
    titles = {by: tr(name) for by, name in GROUPS.items()}
    wb = township_figures.workbook(township_figures.build(start, end), header, titles)
    return Response(
        to_bytes(wb),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=county-figures.xlsx"},
    )
