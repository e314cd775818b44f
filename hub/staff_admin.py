"""Window staffing (窗口人员): who covers which window, from the windows the catalogue names.

A window added in the catalogue can be staffed here at once; putting someone on a window
hands them the window's cases nobody was covering (the same pick-up as coming on duty).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from . import audit, routing
from .auth import current_user, login_required
from .catalogue_store import current as current_catalogue
from .models import Staff
from .staff import ROLES, StaffError, create_user, set_windows

bp = Blueprint("staff_admin", __name__, url_prefix="/admin")


def _page(error: str | None = None, status: int = 200, form: dict[str, Any] | None = None) -> Any:
    people = list(Staff.select().order_by(Staff.role, Staff.username))
    return render_template(
        "admin/staff.html", people=people, cat=current_catalogue(), roles=ROLES, error=error, form=form or {}
    ), status


@bp.get("/staff")
@login_required("admin")
def index() -> Any:
    """Everyone with the windows they cover, and a form for a new person."""
    return _page()


@bp.post("/staff/<username>/windows")
@login_required("admin")
def windows(username: str) -> Any:
    """Set the windows a person covers; a new window's orphan cases go to them."""
    me = current_user()
    assert me is not None  # login_required
    actor = me.username
    person = Staff.get_or_none(Staff.username == username)
    if person is None:
        abort(404, description=_("没有这个工作人员"))
    wanted = request.form.getlist("window")[:100]
    try:
        added = set_windows(person, wanted)
    except StaffError as exc:
        audit.record(actor, "staff.refused", username, {"windows": [w[:8] for w in wanted[:20]], "error": str(exc)})
        return _page(str(exc), 400)
    taken = sum(routing.assign_unassigned(w) for w in added) if person.on_duty else 0
    audit.record(actor, "staff.windows", username, {"windows": person.windows, "took_over": taken})
    flash(_("%(name)s负责的窗口已保存", name=person.name) + (_("，接手无人负责的 %(n)s 件", n=taken) if taken else ""))
    return redirect(url_for("staff_admin.index"))


@bp.post("/staff")
@login_required("admin")
def create() -> Any:
    """Add a person with their role and windows."""
    me = current_user()
    assert me is not None  # login_required
    actor = me.username
    form = request.form
    username = form.get("username", "").strip()[:64]
    try:
        if not username or not form.get("name", "").strip():
            raise StaffError(_("请填写用户名和姓名"))
        person = create_user(
            username,
            form.get("name", "").strip()[:64],
            form.get("password", ""),
            form.get("role", "staff"),
            form.getlist("window")[:100],
        )
    except StaffError as exc:
        audit.record(actor, "staff.refused", username or "-", {"error": str(exc)})
        return _page(str(exc), 400, {"username": username, "name": form.get("name", "")[:64]})
    taken = sum(routing.assign_unassigned(w) for w in person.windows or []) if person.on_duty else 0
    audit.record(
        actor,
        "staff.created",
        person.username,
        {"role": person.role, "windows": list(person.windows or []), "took_over": taken},
    )
    flash(_("已新增工作人员 %(name)s", name=person.name))
    return redirect(url_for("staff_admin.index"))
