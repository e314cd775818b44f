"""公示 before approval (低保: 7 days, 民发〔2021〕57号): start, objections, end, and the printable list.

An item whose catalogue entry has ``publicity_days`` cannot be approved until its 公示 has
been started, has run its days and has been ended by the window; objections received while
it runs are recorded with the window's answer. The village is told when 公示 starts and ends
(how many objections, never who raised them). 公示 does not stop the time limit: the 30
working days of 审核确认 include it (shared.workdays).

Days are calendar days, the day it starts counted: a 7-day 公示 started on the 1st runs to
the 7th and may be ended from the 8th. The printed list shows names masked as every public
list does (shared.validation.mask_name: first character kept, 张** ), with village, item and
household size; no ID number, phone or income.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shared import states
from shared.catalogue import Catalogue
from shared.msgid import N_
from shared.receipt_codes import format_code, normalise
from shared.validation import mask_name

from . import audit
from .auth import current_user, login_required
from .cases import CaseError, announce, check_staff, locked_case
from .catalogue_store import current as current_catalogue
from .clock import now, today
from .db import database
from .models import Case, Publicity, Staff, Village
from .notices import issuer
from .staff import covers

OBJECTION_MAX = 2000
MAX_OBJECTIONS = 200

bp = Blueprint("publicity", __name__)


def check_publicity_done(case: Case, catalogue: Catalogue) -> None:
    """Refuse approval of an item that needs 公示 until its 公示 has run and been ended."""
    days = catalogue.publicity_days(case.item_code)
    if not days:
        return
    row = Publicity.get_or_none(Publicity.request_id == case.request_id)
    if row is None:
        raise CaseError(
            "publicity_required", N_("本事项审批前须公示 %(days)d 天：请先“开始公示”，期满后再审批", days=days)
        )
    if row.ended_at is None:
        raise CaseError(
            "publicity_running",
            N_(
                "公示期为 %(start)s 至 %(end)s，期满并“结束公示”后才能审批",
                start=row.start_on.isoformat(),
                end=row.end_on.isoformat(),
            ),
        )


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _locked_case(receipt_code: str, staff: Staff | None, catalogue: Catalogue) -> tuple[Any, Case]:
    node, case = locked_case(receipt_code)
    check_staff(staff, case, catalogue)
    return node, case


def _audited(action: str, receipt_code: str, actor: str, work: Any) -> Any:
    try:
        return work()
    except CaseError as exc:
        audit.record(actor, "case.refused_attempt", receipt_code[:16], {"action": action, "code": exc.code})
        raise


def start(receipt_code: str, actor: str, staff: Staff | None = None) -> Case:
    """Begin the item's 公示 today, on an accepted case; the village is told its dates."""

    def work() -> Case:
        catalogue = current_catalogue()
        with database.atomic():
            node, case = _locked_case(receipt_code, staff, catalogue)
            days = catalogue.publicity_days(case.item_code)
            if not days:
                raise CaseError("no_publicity", N_("本事项不需要公示"))
            if Publicity.get_or_none(Publicity.request_id == case.request_id) is not None:
                raise CaseError("publicity_exists", N_("本件已经公示过，不能重复开始公示"))
            if case.state != states.ACCEPTED:
                raise CaseError(
                    "not_accepted", N_("本件当前为“%(state)s”，受理并审核后才能公示", state=states.label(case.state))
                )
            first = today()
            row = Publicity.create(
                request_id=case.request_id, start_on=first, end_on=first + timedelta(days=days - 1), started_by=actor
            )
            case.updated_at = now()
            case.save()
            case.event = announce(
                node,
                case,
                actor,
                catalogue,
                action="publicity_started",
                note=f"公示期：{_cn(row.start_on)}至{_cn(row.end_on)}（{days} 天）",
                publicity_start=row.start_on.isoformat(),
                publicity_end=row.end_on.isoformat(),
            )
            audit.record(
                actor,
                "case.publicity_started",
                case.receipt_code,
                {"start": row.start_on.isoformat(), "end": row.end_on.isoformat()},
            )
        return case

    result: Case = _audited("publicity_start", receipt_code, actor, work)
    return result


def object_to(receipt_code: str, text: str, answer: str, actor: str, staff: Staff | None = None) -> Publicity:
    """Record an objection received during 公示, with the window's answer (kept at the township)."""
    text, answer = (text or "").strip(), (answer or "").strip()

    def work() -> Publicity:
        if not text:
            raise CaseError("objection_required", N_("请填写异议内容"))
        if len(text) > OBJECTION_MAX or len(answer) > OBJECTION_MAX:
            raise CaseError("too_long", N_("异议内容和处理意见各不超过 %(max)d 个字", max=OBJECTION_MAX))
        catalogue = current_catalogue()
        with database.atomic():
            _, case = _locked_case(receipt_code, staff, catalogue)
            row = Publicity.get_or_none(Publicity.request_id == case.request_id)
            if row is None or row.ended_at is not None:
                raise CaseError("publicity_not_running", N_("本件不在公示期内，不能登记异议"))
            if len(row.objections or []) >= MAX_OBJECTIONS:
                raise CaseError("too_many", N_("本件登记的异议已达上限"))
            row.objections = [
                *(row.objections or []),
                {"at": now().isoformat(), "by": actor, "text": text, "answer": answer},
            ]
            row.save()
            audit.record(actor, "case.publicity_objection", case.receipt_code, {"number": len(row.objections)})
        return row

    result: Publicity = _audited("publicity_objection", receipt_code, actor, work)
    return result


def end(receipt_code: str, actor: str, staff: Staff | None = None) -> Case:
    """End a 公示 whose days have run; the village is told how many objections were received."""

    def work() -> Case:
        catalogue = current_catalogue()
        with database.atomic():
            node, case = _locked_case(receipt_code, staff, catalogue)
            row = Publicity.get_or_none(Publicity.request_id == case.request_id)
            if row is None:
                raise CaseError("publicity_required", N_("本件还没有开始公示"))
            if row.ended_at is not None:
                raise CaseError("publicity_ended", N_("本件的公示已经结束"))
            if today() <= row.end_on:
                raise CaseError(
                    "publicity_running", N_("公示期至 %(end)s，期满后才能结束公示", end=row.end_on.isoformat())
                )
            row.ended_by, row.ended_at = actor, now()
            row.save()
            n = len(row.objections or [])
            case.updated_at = now()
            case.save()
            case.event = announce(
                node,
                case,
                actor,
                catalogue,
                action="publicity_ended",
                objections=n,
                note=f"公示期满（{_cn(row.start_on)}至{_cn(row.end_on)}），"
                + (f"收到异议 {n} 件，已核实处理" if n else "无异议"),
            )
            audit.record(actor, "case.publicity_ended", case.receipt_code, {"objections": n})
        return case

    result: Case = _audited("publicity_end", receipt_code, actor, work)
    return result


def listing(user: Staff, on: date) -> list[dict[str, Any]]:
    """The lines of the 公示 list running on a day, for the windows this person covers, masked."""
    catalogue = current_catalogue()
    rows = (
        Publicity.select(Publicity, Case, Village)
        .join(Case, on=(Case.request_id == Publicity.request_id), attr="case")
        .join(Village)
        .where((Publicity.start_on <= on) & (Publicity.end_on >= on))
        .order_by(Village.name, Publicity.start_on)
    )
    out = []
    for row in rows:
        case = row.case
        if not covers(user, case.window):
            continue
        item = catalogue.item(case.item_code) or {}
        fields = (case.captured or {}).get("fields", {}) if isinstance(case.captured, dict) else {}
        out.append(
            {
                "name": mask_name(case.applicant_name),
                "village": case.village.name,
                "item": item.get("name", case.item_code),
                "household": fields.get("household_size", ""),
                "start": row.start_on,
                "end": row.end_on,
                "code": format_code(case.receipt_code),
            }
        )
    return out


@bp.get("/console/publicity")
@login_required()
def list_page() -> Any:
    """The printable 公示 list (names masked) for the windows this person covers."""
    raw = request.args.get("on", "")[:10]
    try:
        on = date.fromisoformat(raw) if raw else today()
    except ValueError:
        on = today()
    user = current_user()
    assert user is not None  # login_required
    return render_template("admin/publicity_list.html", rows=listing(user, on), on=on, issuer=issuer(), cn=_cn)


@bp.post("/console/case/<code>/publicity")
@login_required()
def act(code: str) -> Any:
    """开始公示 / 登记异议 / 结束公示 from the case page."""
    from .console import ERROR_STATUS, _detail

    user = current_user()
    assert user is not None  # login_required
    case = Case.get_or_none(Case.receipt_code == normalise(code)[:16])
    if case is None or not covers(user, case.window):
        abort(404, description=_("没有这个回执码"))
    step = request.form.get("step", "")
    try:
        if step == "start":
            start(case.receipt_code, user.username, user)
            flash(_("已开始公示"))
        elif step == "objection":
            object_to(
                case.receipt_code,
                request.form.get("objection", ""),
                request.form.get("answer", ""),
                user.username,
                user,
            )
            flash(_("已登记异议"))
        elif step == "end":
            end(case.receipt_code, user.username, user)
            flash(_("公示已结束"))
        else:
            return _detail(case, _("未知操作"), request.form.to_dict(), 400)
    except CaseError as exc:
        return _detail(
            Case.get_by_id(case.request_id), exc.message, request.form.to_dict(), ERROR_STATUS.get(exc.code, 400)
        )
    return redirect(url_for("console.case_view", code=case.receipt_code))
