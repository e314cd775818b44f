"""The county hub's own page: the cases the townships passed up, waiting for the county's answer, by deadline.

Each line opens the ordinary case page, where county staff answer with the 县级批复 form
(hub/county_views.py → hub/cases.record_county_answer); the answer goes back to the township on its
next sync. Only a county hub has this page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _

from .. import queue as console_queue
from ..auth import current_user, login_required
from ..catalogue_store import current as current_catalogue
from . import level
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
