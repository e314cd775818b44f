"""好差评 at the hub: one rating per matter, and every 差评 checked, put right, called back or appealed.

- A rating arrives from the village node (`request.feedback`, the clerk entering it at the point or
  from the paper form) or from the public status page with the receipt code and phone tail.
  The first one counts ("一事一评"); any later one is refused with a reason, never overwrites.
- A 差评 opens a rectification due in RATING_RECTIFY_DAYS working days (15 by default), coloured
  by the same yellow/red rule as cases (shared.workdays.urgency). Staff of the matter's window or a
  supervisor record what was checked and put right; a supervisor records the call-back (回访).
  Staff who believe a rating mistaken appeal (申诉复核); a supervisor other than the appellant
  decides: upheld makes it void (not counted as 差评), rejected reopens it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from shared import ratings
from shared.i18n import tr
from shared.msgid import N_, joined, listed
from shared.receipt_codes import format_code, normalise
from shared.workdays import GREEN, RED

from . import audit, deadlines
from .auth import current_user, login_required
from .catalogue_store import current as current_catalogue
from .clock import china_date, now, today
from .db import database
from .models import Case, Rating, Staff, Village
from .staff import covers

bp = Blueprint("ratings", __name__)


@bp.app_context_processor
def _vocabulary() -> dict[str, Any]:
    return {"RATING_LEVELS": ratings.LEVELS}


bp.add_app_template_global(ratings.level_of, "rating_level")

MAX_NOTE = 1000
OPEN, RECTIFIED, APPEALED, VOID = "open", "rectified", "appealed", "void"
STATE_LABELS = {
    OPEN: N_("待整改"),
    RECTIFIED: N_("已整改"),
    APPEALED: N_("申诉复核中"),
    VOID: N_("申诉成立（不计差评）"),
}
CALLBACK_RESULTS = (N_("满意"), N_("基本满意"), N_("不满意"), N_("未联系上"))


class RatingRefused(Exception):
    """A rating or a 差评 step that cannot be taken, with its reason in Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def rectify_days() -> int:
    """Working days to put a 差评 right (config RATING_RECTIFY_DAYS)."""
    try:
        return int(current_app.config.get("RATING_RECTIFY_DAYS", ratings.DEFAULT_RECTIFY_DAYS))
    except RuntimeError:  # outside an app (CLI jobs): the default
        return ratings.DEFAULT_RECTIFY_DAYS


def record_rating(case: Case, level: Any, comment: Any, channel: str, entered_by: str) -> Rating:
    """Take the matter's one rating; a 差评 opens its rectification. Caller holds the transaction."""
    errors = ratings.check(level, comment)
    if errors:
        raise RatingRefused("bad_feedback", joined(errors))
    if channel not in ratings.CHANNELS:
        raise RatingRefused("bad_feedback", N_("评价渠道无效"))
    if not ratings.can_rate(case.state):
        raise RatingRefused("not_rateable", ratings.NOT_RATEABLE)
    if case.satisfaction is not None or Rating.select().where(Rating.case == case.request_id).exists():
        raise RatingRefused("already_rated", ratings.ALREADY_RATED)
    at = now()
    on = china_date(at)
    bad = ratings.is_bad(level)
    rating = Rating.create(
        case=case.request_id,
        level=level,
        comment=comment.strip(),
        channel=channel,
        village=case.village_id,
        window=case.window,
        staff=case.assignee,
        entered_by=entered_by[:64],
        rated_at=at,
        rated_on=on,
        bad=bad,
        state=OPEN if bad else "",
        due=deadlines.calendar().add_workdays(on, rectify_days()) if bad else None,
    )
    Case.update(satisfaction=level).where(Case.request_id == case.request_id).execute()
    if bad:
        audit.record(entered_by or "villager", "rating.bad", case.receipt_code, {"level": level, "channel": channel})
    return rating


def colour(r: Rating, on: date | None = None) -> str:
    """green / yellow / red for an open or appealed 差评, by the same rule as a case's deadline."""
    if r.state not in (OPEN, APPEALED):
        return GREEN
    return deadlines.open_colour(r.rated_on, r.due, on)


def _rating_of(code: str) -> tuple[Rating, Case]:
    case = Case.get_or_none(Case.receipt_code == normalise(code)[:16])
    rating = Rating.get_or_none(Rating.case == case.request_id) if case else None
    if case is None or rating is None:
        raise RatingRefused("no_rating", N_("没有这条评价"))
    return rating, case


def _text(value: Any, what: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise RatingRefused("empty", N_("请填写%(what)s", what=what))
    if len(text) > MAX_NOTE:
        raise RatingRefused("too_long", N_("%(what)s不能超过 %(MAX_NOTE)s 字", what=what, MAX_NOTE=MAX_NOTE))
    return text


def rectify(code: str, staff: Staff, note: Any) -> Rating:
    """整改: staff of the matter's window, or a supervisor, record what was checked and put right."""
    with database.atomic():
        r, case = _rating_of(code)
        text = _text(note, _("核实及整改情况"))
        if r.state != OPEN:
            raise RatingRefused("not_open", N_("只有待整改的差评可以登记整改"))
        if not covers(staff, r.window):
            raise RatingRefused("not_responsible", N_("您不负责该事项所在窗口，不能登记整改"))
        r.rectify_note, r.rectified_by, r.rectified_at, r.rectified_on = text, staff.username, now(), today()
        r.state = RECTIFIED
        r.save()
        late = r.due is not None and r.rectified_on > r.due
        audit.record(staff.username, "rating.rectified", case.receipt_code, {"late": late})
    return r


def call_back(code: str, staff: Staff, note: Any, result: Any) -> Rating:
    """回访: a supervisor calls the villager back once the 差评 was put right."""
    with database.atomic():
        r, case = _rating_of(code)
        text = _text(note, _("回访情况"))
        if staff.role not in ("supervisor", "admin"):
            raise RatingRefused("not_responsible", N_("回访由效能监督人员登记"))
        if r.state != RECTIFIED:
            raise RatingRefused("not_rectified", N_("整改完成后才能登记回访"))
        if result not in CALLBACK_RESULTS:
            raise RatingRefused("bad_result", N_("请选择回访结果：%(choices)s", choices=listed(list(CALLBACK_RESULTS))))
        r.callback_note, r.callback_result, r.callback_by, r.callback_at = text, result, staff.username, now()
        r.save()
        audit.record(staff.username, "rating.callback", case.receipt_code, {"result": result})
    return r


def appeal(code: str, staff: Staff, reason: Any) -> Rating:
    """申诉: staff of the window believe the 差评 mistaken and ask a supervisor to review it."""
    with database.atomic():
        r, case = _rating_of(code)
        text = _text(reason, _("申诉理由"))
        if r.state != OPEN:
            raise RatingRefused("not_open", N_("只有待整改的差评可以申诉"))
        if not covers(staff, r.window):
            raise RatingRefused("not_responsible", N_("您不负责该事项所在窗口，不能申诉"))
        if r.appeal_by is not None:
            raise RatingRefused("appealed_before", N_("该差评已申诉过一次，复核结论为最终结论"))
        r.appeal_reason, r.appeal_by, r.appeal_at, r.state = text, staff.username, now(), APPEALED
        r.save()
        audit.record(staff.username, "rating.appeal", case.receipt_code, {})
    return r


def decide_appeal(code: str, staff: Staff, decision: Any, note: Any) -> Rating:
    """复核: a supervisor other than the appellant upholds (void) or rejects (reopen) the appeal."""
    with database.atomic():
        r, case = _rating_of(code)
        text = _text(note, _("复核意见"))
        if staff.role not in ("supervisor", "admin"):
            raise RatingRefused("not_responsible", N_("申诉复核由效能监督人员办理"))
        if r.state != APPEALED:
            raise RatingRefused("not_appealed", N_("该差评没有待复核的申诉"))
        if staff.username in (r.appeal_by, r.staff):
            raise RatingRefused("own_appeal", N_("不能复核本人提出或涉及本人的申诉"))
        if decision not in ("upheld", "rejected"):
            raise RatingRefused("bad_decision", N_("请选择：申诉成立或申诉不成立"))
        r.appeal_decision, r.appeal_note, r.appeal_decided_by = decision, text, staff.username
        r.state = VOID if decision == "upheld" else OPEN
        r.save()
        audit.record(staff.username, "rating.appeal_decided", case.receipt_code, {"decision": decision})
    return r


# --- figures ----------------------------------------------------------------------


@dataclass
class Tally:
    """Ratings of one window, staff member or village."""

    label: str = ""
    levels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ratings.LEVELS, 0))
    bad: int = 0

    @property
    def total(self) -> int:
        """How many ratings."""
        return sum(self.levels.values())

    @property
    def good_rate(self) -> float | None:
        """Share rated 非常满意, 满意 or 基本满意."""
        return sum(self.levels[k] for k in ratings.SATISFIED) / self.total if self.total else None


def tallies(rows: list[Rating]) -> dict[str, dict[str, Tally]]:
    """Ratings per window, staff member and village (a voided 差评 is not counted as 差评)."""
    cat = current_catalogue()
    names = {s.username: s.name for s in Staff.select(Staff.username, Staff.name)}
    villages = {v.id: v.name for v in Village.select(Village.id, Village.name)}
    out: dict[str, dict[str, Tally]] = {
        "window": defaultdict(Tally),
        "staff": defaultdict(Tally),
        "village": defaultdict(Tally),
    }
    for r in rows:
        level = ratings.level_of(r.level)
        if level is None:
            continue
        for by, key, label in (
            ("window", r.window, cat.window_name(r.window)),
            ("staff", r.staff or "", names.get(r.staff or "", r.staff or _("未分配"))),
            ("village", str(r.village_id), villages.get(r.village_id, "")),
        ):
            t = out[by][key]
            t.label = label
            t.levels[level] += 1
            t.bad += int(r.bad and r.state != VOID)
    return {by: dict(sorted(d.items(), key=lambda kv: kv[1].label)) for by, d in out.items()}


def bad_figures(rows: list[Rating], on: date) -> dict[str, Any]:
    """差评 open / overdue / rectified, and the call-back rate over rectified ones."""
    bad = [r for r in rows if r.bad and r.state != VOID]
    rectified = [r for r in bad if r.state == RECTIFIED]
    called = [r for r in rectified if r.callback_at is not None]
    return {
        "bad": len(bad),
        "open": sum(1 for r in bad if r.state in (OPEN, APPEALED)),
        "overdue": sum(1 for r in bad if colour(r, on) == RED),
        "rectified": len(rectified),
        "rectified_late": sum(1 for r in rectified if r.rectified_on and r.due and r.rectified_on > r.due),
        "appealed": sum(1 for r in rows if r.appeal_by is not None),
        "void": sum(1 for r in rows if r.state == VOID),
        "called_back": len(called),
        "callback_rate": len(called) / len(rectified) if rectified else None,
    }


# --- pages ------------------------------------------------------------------------


def public_offer(code_text: str) -> dict[str, Any] | None:
    """What the status page offers for a case already shown to its villager: their rating, or the form."""
    code = normalise(code_text)[:16]
    shown = g.get("status_case")  # the case this very request looked up (hub/public_status.py)
    if shown is not None and shown.receipt_code == code:
        row = (shown.satisfaction, shown.state)
    else:
        # Two columns, not the whole case.
        row = Case.select(Case.satisfaction, Case.state).where(Case.receipt_code == code).tuples().first()
    if row is None:
        return None
    satisfaction, state = row
    level = ratings.level_of(satisfaction)
    return {"rated": level, "can_rate": level is None and ratings.can_rate_online(state)}


bp.add_app_template_global(public_offer, "rating_offer")


@bp.post("/status/rate")
def rate_online() -> Any:
    """一事一评 on the public status page: receipt code and phone tail again, then the one rating."""
    from .public_status import lookup
    from .ratelimit import allow_status_lookup, status_miss

    code = request.form.get("code", "")[:20]
    tail = request.form.get("tail", "")[:8]
    level, comment = request.form.get("level"), request.form.get("comment", "")
    message, status = _("评价已记录，谢谢您！"), 200
    client = request.remote_addr or "unknown"
    code_key = normalise(code)[:16]
    if not allow_status_lookup(client, code_key):
        message, status = _("操作过于频繁，请稍后再试。"), 429
    else:
        case = lookup(code, tail)
        if case is None:
            status_miss(code_key)
            message, status = _("回执码或手机号后四位不符，评价未记录。"), 400
        elif not ratings.can_rate_online(case.state):
            message, status = tr(ratings.NOT_DONE), 400
        else:
            try:
                with database.atomic():
                    r = record_rating(case, level, comment, "online", "villager")
                if r.bad:
                    message = _(
                        "评价已记录。我们将在 %(rectify_days)s 个工作日内核实整改，并电话回访您。",
                        rectify_days=rectify_days(),
                    )
            except RatingRefused as exc:
                message, status = tr(exc.message), 400
    resp = make_response(
        render_template(
            "public/rated.html",
            message=message,
            ok=status == 200,
            code=format_code(normalise(code)) if status != 429 else "",
        ),
        status,
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _visible(user: Staff) -> Any:
    query = Rating.select(Rating, Case).join(Case)
    if user.role in ("supervisor", "admin"):
        return query
    return query.where(Rating.window.in_(list(user.windows or [])))


@bp.get("/ratings")
@login_required()
def index() -> Any:
    """好差评: figures per window, staff and village for supervisors, and the 差评 list to put right."""
    user = current_user()
    assert user is not None
    rows = list(_visible(user).order_by(Rating.rated_at.desc()))
    on = today()
    bad = [r for r in rows if r.bad]
    return render_template(
        "ratings/index.html",
        rows=rows,
        bad=bad,
        figures=bad_figures(rows, on),
        tallies=tallies(rows),
        colour=lambda r: colour(r, on),
        labels=STATE_LABELS,
        channels=ratings.CHANNELS,
        cat=current_catalogue(),
        supervisor=user.role in ("supervisor", "admin"),
        levels=ratings.LEVELS,
    )


@bp.get("/ratings/<code>")
@login_required()
def detail(code: str) -> Any:
    """One rating, its 差评 handling, and the forms the viewer may use."""
    user = current_user()
    assert user is not None
    try:
        r, case = _rating_of(code)
    except RatingRefused:
        abort(404)
    if not covers(user, r.window):
        abort(403)
    return _detail_page(r, case, user)


def _detail_page(r: Rating, case: Case, user: Staff, error: str | None = None) -> str:
    """The rating page, with the refusal the last step met if any."""
    return render_template(
        "ratings/detail.html",
        r=r,
        case=case,
        labels=STATE_LABELS,
        channels=ratings.CHANNELS,
        colour=colour(r),
        results=CALLBACK_RESULTS,
        cat=current_catalogue(),
        supervisor=user.role in ("supervisor", "admin"),
        error=error,
    )


STEPS = {
    "rectify": lambda code, user, form: rectify(code, user, form.get("note")),
    "callback": lambda code, user, form: call_back(code, user, form.get("note"), form.get("result")),
    "appeal": lambda code, user, form: appeal(code, user, form.get("note")),
    "decide": lambda code, user, form: decide_appeal(code, user, form.get("decision"), form.get("note")),
}


def act(code: str, step: str) -> Any:
    """Take one 差评 step; a refusal changes nothing and says why."""
    user = current_user()
    assert user is not None
    try:
        STEPS[step](code, user, request.form)
    except RatingRefused as exc:
        try:
            r, case = _rating_of(code)
        except RatingRefused:
            abort(404)
        if not covers(user, r.window):
            return render_template("console/error.html", title=_("不能办理"), message=tr(exc.message)), 403
        return _detail_page(r, case, user, error=tr(exc.message)), 400
    flash(_("已记录"))
    return redirect(url_for("ratings.detail", code=normalise(code)))


def _step_view(step: str) -> Any:
    def view(code: str) -> Any:
        return act(code, step)

    view.__name__ = f"act_{step}"
    view.__doc__ = f"POST the 差评 step {step}."
    return login_required()(view)


for _step in STEPS:
    # One rule per step (not a <step> variable), so every form is a URL the security walk visits.
    bp.add_url_rule(f"/ratings/<code>/{_step}", f"act_{_step}", _step_view(_step), methods=["POST"])


def summary() -> dict[str, Any]:
    """差评 figures over every rating, for the supervision dashboard."""
    return bad_figures(list(Rating.select()), today())


bp.add_app_template_global(summary, "ratings_summary")
