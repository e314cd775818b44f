"""The window staff's console: queue per window, case detail, actions and their printed papers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shared import china_time, corrections, states
from shared.i18n import tr
from shared.messages import INT64_MAX
from shared.receipt_codes import format_code, normalise

from . import absence, cases as case_actions, deadlines, history, notices, queue, routing
from . import corrections as case_corrections
from .attachment_views import rows_for as attachment_rows
from .auth import current_user, login_required
from .cases import CaseError, act, reassign
from .catalogue_store import current as current_catalogue
from .clock import today
from .models import Case, Contact, CountyReferral, Extension, NodeEvent, Publicity, Staff
from .staff import display_name, may_handle

bp = Blueprint("console", __name__)
log = logging.getLogger("daiban.hub.console")

# Console actions: what the button does -> the case action behind it.
CONSOLE_ACTIONS = {
    "accept": "accept",
    "ask_materials": "ask_materials",
    "refuse": "refuse",
    "approve": "approve",
    "deny": "deny",
    "immediate": "approve",
    "to_county": "to_county",
}
# CaseError codes to HTTP statuses; anything else is a form the person must correct (400).
ERROR_STATUS = {
    "not_your_window": 403,
    "inactive_staff": 403,
    "unknown_case": 404,
    "unknown_staff": 400,
    "terminal_state": 409,
    "forbidden_transition": 409,
    "immediate_only": 409,
    "same_assignee": 409,
    "second_request": 409,
    "override_not_allowed": 403,
    "materials_missing": 409,
    "not_supervisor": 403,
    "case_closed": 409,
    "already_decided": 409,
    "pending_extension": 409,
    "no_clock": 409,
    "unknown_extension": 404,
    "not_for_county": 409,
    "county_decides": 409,
    "not_passed_up": 409,
    "already_answered": 409,
    "publicity_required": 409,
    "publicity_running": 409,
    "publicity_exists": 409,
    "publicity_ended": 409,
    "publicity_not_running": 409,
    "not_accepted": 409,
    "no_publicity": 409,
}


@bp.app_template_filter("code")
def code_filter(code: str) -> str:
    """A receipt code as printed (groups of three)."""
    return format_code(code)


@bp.get("/")
def home() -> Any:
    """Staff land on their queue; everyone else on the login page."""
    if current_user() is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("console.queue_view"))


@bp.get("/console/")
@login_required()
def queue_view() -> Any:
    """Open cases of the windows the person covers, soonest deadline first."""
    user = current_user()
    catalogue = current_catalogue()
    windows = queue.visible_windows(user, catalogue)
    window = request.args.get("window") or None
    if window and window not in windows:
        window = None
    show = request.args.get("show", "open")
    mine = request.args.get("mine") == "1"
    if show == "closed":
        cases = queue.closed_cases(windows, window)
    else:
        cases = queue.open_cases(
            windows, window, assignee=user.username if mine else None, handed_to=None if window else user.username
        )
    names = queue.staff_names()
    lines = queue.rows(cases, catalogue, deadlines.calendar(), today(), names)
    unassigned = [line for line in lines if line["orphan"]]
    return render_template(
        "console/queue.html",
        lines=lines,
        windows=[catalogue.window(w) for w in windows],
        window=window,
        show=show,
        mine=mine,
        unassigned=unassigned,
        is_supervisor=user.role in ("supervisor", "admin"),
    )


def _case_or_404(code: str) -> Case:
    # A case of a window the person does not cover gets the same 404 as a code that does not
    # exist, so staff cannot learn which receipt codes are in use at other windows.
    case = Case.get_or_none(Case.receipt_code == normalise(code))
    user = current_user()
    if case is not None and user is not None and not may_handle(user, case):
        log.warning("refused view of %s by %s", case.receipt_code, user.username)
        case = None
    if case is None:
        abort(404, description=_("没有这个回执码"))
    return case


def _detail(case: Case, error: str | None = None, form: dict[str, Any] | None = None, status: int = 200) -> Any:
    user = current_user()
    error = tr(error) if error else error  # a refusal is kept Chinese until it is shown
    catalogue = current_catalogue()
    item = catalogue.item(case.item_code) or {}
    names = {**queue.staff_names(), "system": _("系统")}
    line = queue.rows([case], catalogue, deadlines.calendar(), today(), names)[0]
    node_events = list(NodeEvent.select().where(NodeEvent.request_id == case.request_id).order_by(NodeEvent.seq))
    reassign_to = []
    if user.role in ("supervisor", "admin") and not states.is_terminal(case.state):
        reassign_to = [
            s
            for s in Staff.select().where(Staff.active == True).order_by(Staff.username)
            if case.window in (s.windows or []) and s.username != case.assignee
        ]
    # The county's answers have their own form (document number and date), not a plain button.
    actions = [
        a
        for a in states.available_actions(case.state, case.mode, catalogue.passes_up(case.item_code))
        if a not in states.COUNTY_ANSWERS
    ]
    if case.materials_missing:
        # 受理 waits for the materials (cases.act refuses it too); offer no button that can only fail.
        actions = [a for a in actions if a != "accept"]
    cal = deadlines.calendar()
    return render_template(
        "console/case.html",
        case=case,
        line=line,
        item=item,
        catalogue=catalogue,
        applicant=case.captured.get("applicant", {}),
        fields=catalogue.fields(case.item_code),
        materials=catalogue.materials(case.item_code),
        brought=set(case.materials_brought or []),
        missing=set(case.materials_missing or []),
        history=history.rows(case, node_events, notices.events_of(case), names, catalogue),
        correctable=corrections.choices(catalogue, case.item_code) if not states.is_terminal(case.state) else [],
        papers=notices.papers(case),
        names=names,
        actions=actions,
        reassign_to=reassign_to,
        can_act=may_handle(user, case),
        error=error,
        form=form or {},
        action_labels=states.ACTION_LABELS,
        state_labels=states.LABELS,
        clock=deadlines.clock(case, cal, today()),
        notice_late=deadlines.notice_overdue(case, cal, today()),
        is_supervisor=user.role in case_actions.SUPERVISORS,
        extensions=list(Extension.select().where(Extension.request_id == case.request_id).order_by(Extension.id)),
        contacts=list(Contact.select().where(Contact.request_id == case.request_id).order_by(Contact.at)),
        contact_kinds=case_actions.CONTACT_KINDS,
        referral=CountyReferral.get_or_none(CountyReferral.request_id == case.request_id),
        publicity=Publicity.get_or_none(Publicity.request_id == case.request_id),
        publicity_days=catalogue.publicity_days(case.item_code),
        today=today(),
        attachments=attachment_rows(case),
        first_contact=notices.first_contact(case),
        just_received=request.args.get("received") == "1",
        later_duplicates=list(Case.select(Case.receipt_code).where(Case.duplicate_of == case.receipt_code)),
    ), status


@bp.get("/console/case/<code>")
@login_required()
def case_view(code: str) -> Any:
    """One case: applicant, materials, village and clerk, history, and the actions open to it."""
    case = _case_or_404(code)
    return _detail(case)


@bp.post("/console/case/<code>/act")
@login_required()
def case_act(code: str) -> Any:
    """Take an action; on success print its paper, otherwise say why and change nothing."""
    case = _case_or_404(code)
    form = request.form
    choice = form.get("action", "")
    if choice not in CONSOLE_ACTIONS:
        return _detail(case, _("未知操作"), form.to_dict(), 400)
    if choice == "immediate" and case.mode != "immediate":
        return _detail(case, _("只有即办件可以当场受理并办结"), form.to_dict(), 409)
    user = current_user()
    try:
        done = act(
            case.receipt_code,
            CONSOLE_ACTIONS[choice],
            user.username,
            staff=user,
            missing=form.getlist("missing"),
            reason=form.get("reason"),
            legal_basis=form.get("legal_basis"),
            note=form.get("note"),
            override=form.get("override"),
        )
    except CaseError as exc:
        return _detail(Case.get_by_id(case.request_id), exc.message, form.to_dict(), ERROR_STATUS.get(exc.code, 400))
    flash(f"{format_code(done.receipt_code)}：{states.label(done.state)}")
    if done.event.body.get("action") not in notices.PAPERS:
        return redirect(url_for("console.case_view", code=done.receipt_code))
    return redirect(url_for("console.notice_view", code=done.receipt_code, cseq=done.event.cseq))


@bp.post("/console/case/<code>/reassign")
@login_required("supervisor")
def case_reassign(code: str) -> Any:
    """Hand a case to someone else on its window (supervisors), recorded with the reason."""
    case = _case_or_404(code)
    try:
        reassign(
            case.receipt_code, request.form.get("assignee", ""), current_user().username, request.form.get("reason", "")
        )
    except CaseError as exc:
        return _detail(case, exc.message, request.form.to_dict(), ERROR_STATUS.get(exc.code, 400))
    flash(_("已改派承办人"))
    return redirect(url_for("console.case_view", code=case.receipt_code))


@bp.post("/console/case/<code>/correct")
@login_required()
def case_correct(code: str) -> Any:
    """Correct one captured field with a reason; the receipt code stays, the village is told."""
    case = _case_or_404(code)
    form = request.form
    try:
        case_corrections.correct(
            case.receipt_code,
            form.get("field", ""),
            form.get("value", ""),
            form.get("reason", ""),
            current_user().username,
            current_user(),
        )
    except CaseError as exc:
        return _detail(Case.get_by_id(case.request_id), exc.message, form.to_dict(), ERROR_STATUS.get(exc.code, 400))
    flash(_("已更正，更正记录已记入办理记录并将告知代办点"))
    return redirect(url_for("console.case_view", code=case.receipt_code))


@bp.post("/console/case/<code>/extension")
@login_required()
def extension_request(code: str) -> Any:
    """Ask for an extension of the time limit (延期); a supervisor must approve it."""
    case = _case_or_404(code)
    user = current_user()
    raw = request.form.get("days", "").strip()
    try:
        days = int(raw)
    except ValueError:
        return _detail(case, _("延长的工作日数须是整数"), request.form.to_dict(), 400)
    try:
        case_actions.request_extension(
            case.receipt_code, days, request.form.get("reason", ""), user.username, staff=user
        )
    except CaseError as exc:
        return _detail(case, exc.message, request.form.to_dict(), ERROR_STATUS.get(exc.code, 400))
    flash(_("延期申请已提交，待效能监督人员批准"))
    return redirect(url_for("console.case_view", code=case.receipt_code))


@bp.post("/console/case/<code>/extension/decide")
@login_required()
def extension_decide(code: str) -> Any:
    """A supervisor approves or rejects an extension; staff get a refusal and nothing changes."""
    case = _case_or_404(code)
    try:
        ext_id = int(request.form.get("ext_id", ""))
        if not 0 < ext_id <= INT64_MAX:  # no row's id; SQLite cannot even bind one beyond 64 bits
            raise ValueError(ext_id)
    except ValueError:
        return _detail(case, _("没有这项延期申请"), request.form.to_dict(), 400)
    ext = Extension.get_or_none((Extension.id == ext_id) & (Extension.request_id == case.request_id))
    if ext is None:
        return _detail(case, _("本件没有这项延期申请"), request.form.to_dict(), 404)
    user = current_user()
    approve = request.form.get("decision") == "approve"
    try:
        done = case_actions.decide_extension(ext_id, approve, user.username, user, request.form.get("note", ""))
    except CaseError as exc:
        return _detail(case, exc.message, request.form.to_dict(), ERROR_STATUS.get(exc.code, 400))
    flash(_("已批准延期，新的办结期限已告知代办点") if approve else _("已不批准延期"))
    return redirect(url_for("console.case_view", code=done.receipt_code))


@bp.route("/console/contacts", methods=["GET", "POST"])
@login_required()
def contacts_view() -> Any:
    """首问负责制: consultations and 转办 recorded with who answered, when and what."""
    user = current_user()
    error, status = None, 200
    code = normalise(request.form.get("receipt_code", "")) if request.method == "POST" else ""
    if request.method == "POST":
        try:
            case_actions.record_contact(
                request.form.get("kind", ""),
                request.form.get("person", ""),
                request.form.get("topic", ""),
                request.form.get("answer", ""),
                request.form.get("to_body", ""),
                user.username,
                code or None,
            )
        except CaseError as exc:
            error, status = tr(exc.message), ERROR_STATUS.get(exc.code, 400)
        else:
            flash(_("已登记"))
            back = url_for("console.case_view", code=code) if code else url_for("console.contacts_view")
            return redirect(back)
    rows = list(Contact.select().order_by(Contact.at.desc()).limit(200))
    return render_template(
        "console/contacts.html",
        rows=rows,
        kinds=case_actions.CONTACT_KINDS,
        names={**queue.staff_names(), "system": _("系统")},
        error=error,
        form=request.form.to_dict() if error else {},
    ), status


@bp.get("/console/case/<code>/paper/<int:cseq>")
@login_required()
def notice_view(code: str, cseq: int) -> Any:
    """The printable paper an action produced."""
    case = _case_or_404(code)
    event = next((e for e in notices.events_of(case) if e.cseq == cseq), None)
    if event is None or event.body.get("action") not in notices.PAPERS:
        abort(404, description=_("没有这份通知书"))
    template, ctx = notices.context(case, event, current_catalogue())
    return render_template(template, **ctx)


@bp.get("/console/case/<code>/feedback")
@login_required()
def feedback_form(code: str) -> Any:
    """事项办理群众满意情况反馈单 for the villager to fill in, with any answer already received."""
    case = _case_or_404(code)
    catalogue = current_catalogue()
    item = catalogue.item(case.item_code) or {}
    return render_template(
        "console/feedback.html",
        case=case,
        item_name=item.get("name", case.item_code),
        window_name=catalogue.window_name(case.window),
        centre=notices.CENTRE_NAME,
        state_label=states.label(case.state),
        names=queue.staff_names(),
    )


@bp.route("/console/staff", methods=["GET", "POST"])
@login_required()
def staff_view() -> Any:
    """Who is on duty and who stands in (AB角); staff mark themselves, supervisors anyone (hub/absence.py)."""
    user = current_user()
    error, status = None, 200
    if request.method == "POST":
        form = request.form
        try:
            if form.get("op") == "backup":
                person = absence.set_backup(form.get("username", ""), form.get("backup", ""), user)
                flash(_("%(name)s的B角已更新", name=person.name))
            else:
                change = absence.set_duty(
                    form.get("username", ""), form.get("on_duty") == "1", user, form.get("backup", "")
                )
                flash(change.sentence())
        except CaseError as exc:
            error, status = tr(exc.message), {"unknown_staff": 404, "not_supervisor": 403}.get(exc.code, 409)
        else:
            return redirect(url_for("console.staff_view"))
    catalogue = current_catalogue()
    people = list(Staff.select().where(Staff.active == True).order_by(Staff.role, Staff.username))
    counts = routing.open_counts([p.username for p in people])
    names = {p.username: p.name for p in people}
    return render_template(
        "console/staff.html",
        people=people,
        counts=counts,
        catalogue=catalogue,
        names=names,
        is_supervisor=user.role in ("supervisor", "admin"),
        error=error,
    ), status


def init_app(app: Any) -> None:
    """Register the console, the one time filter (Beijing time) and its Chinese error pages."""
    app.register_blueprint(bp)
    china_time.register(app)
    app.jinja_env.filters["staff_name"] = display_name

    for status in (403, 404):
        app.register_error_handler(status, _error_page)


def _error_page(exc: Any) -> Any:
    if request.path.startswith("/api/"):
        return exc
    titles = {403: _("无权操作"), 404: _("未找到")}
    # Werkzeug's stock (English) description means no Chinese one was given.
    message = exc.description if exc.description != type(exc).description else titles[exc.code]
    current_app.logger.info("%s %s: %s", exc.code, request.path, message)
    return render_template("console/error.html", title=titles[exc.code], message=message), exc.code
