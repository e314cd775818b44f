"""The clerk's list and search of local requests, the detail page, and later events on a request."""

from __future__ import annotations

import logging
from datetime import date, timezone
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shared import china_time, corrections, protocol, ratings, states
from shared.chunks import MAX_ATTACHMENT_BYTES
from shared.i18n import tr
from shared.materials import merge_supplement
from shared.msgid import N_, joined
from shared.receipt_codes import ALPHABET, is_valid, normalise
from shared.validation import normalise_mobile
from shared.workdays import CLOSED, PAUSED, WAITING, WorkCalendar, case_clock

from . import meta, scheduler
from .attachments import for_request
from .auth import current_clerk, login_required
from .capture import WithdrawRefused, add_event, catalogue, now, release_held
from .capture import withdraw as withdraw_request
from .capture_views import stored_request
from .db import database
from .models import Event, HubUpdate, Request

bp = Blueprint("requests", __name__)
log = logging.getLogger("daiban.node.requests")

PAGE = 100
EVENT_LABELS = {
    "request.captured": N_("收件登记并提交"),
    "request.supplemented": N_("补正材料"),
    "request.feedback": N_("好差评"),
    "request.withdrawn": N_("申请撤回"),
    "attachment.added": N_("添加附件"),
    "request.corrected": N_("更正登记内容"),
}


@bp.app_context_processor
def sync_banner() -> dict[str, Any]:
    """Every page says quietly when the centre could not be reached, and how old the oldest unsent record is."""
    error = meta.get("last_error")
    if not error:
        return {"sync_trouble": None}
    oldest = Event.select(Event.at).where(Event.result.is_null() & ~Event.quarantined).order_by(Event.id).first()
    age = ""
    if oldest is not None:
        try:
            seconds = (protocol.utcnow() - protocol.parse_iso(oldest.at)).total_seconds()
        except ValueError:
            seconds = 0
        age = _age_text(seconds)
    return {"sync_trouble": {"error": error, "at": meta.get("last_error_at"), "oldest_age": age}}


def _age_text(seconds: float) -> str:
    if seconds >= 86400:
        return _("%(seconds)s 天", seconds=int(seconds // 86400))
    if seconds >= 3600:
        return _("%(seconds)s 小时", seconds=int(seconds // 3600))
    return _("%(seconds)s 分钟", seconds=max(int(seconds // 60), 1))


def search(q: str, item: str, state: str) -> Any:
    """Requests matching a receipt code or part of one, name, ID tail, phone, item and state, newest first.

    Each kind of query uses its own index so a search stays fast with 100,000 local
    requests: an exact receipt code, the start of a code (with or without this point's
    two-symbol prefix, which every local code shares), an 11-digit phone number, the last
    four ID digits, or a name prefix (the surname, usually). Only when these find nothing
    does it look inside names and codes, which means reading the whole table.
    """

    def filtered(cond: Any) -> Any:
        query = Request.select()
        if cond is not None:
            query = query.where(cond)
        if item:
            query = query.where(Request.item_code == item)
        if state:
            query = query.where(Request.state == state)
        return query.order_by(Request.created_at.desc()).limit(PAGE)

    q = q.strip()
    if not q:
        return filtered(None)
    code = normalise(q)
    if is_valid(code):
        return filtered(Request.receipt_code == code)
    phone = normalise_mobile(q)
    if len(phone) == 11 and phone.isdigit():
        return filtered(Request.phone == phone)
    cond = _starts(Request.applicant_name, q)
    if len(q) == 4 and all(c.isdigit() or c in "Xx" for c in q):
        cond |= Request.id_tail == q.upper()
    fragment = len(code) >= 3 and all(c in ALPHABET for c in code)
    if fragment:
        cond |= _starts(Request.receipt_code, code) | _starts(Request.receipt_code, meta.get("prefix", "") + code)
    rows = list(filtered(cond))
    if rows:
        return rows
    inside = Request.applicant_name.contains(q)
    return filtered(inside | Request.receipt_code.contains(code) if fragment else inside)


def _starts(column: Any, text: str) -> Any:
    """column starts with text, written as a range so the column's index answers it."""
    return (column >= text) & (column < text + "\U0010ffff")


@bp.get("/")
@login_required
def index() -> Any:
    """Local list and search."""
    q, item, state = (request.args.get(k, "") for k in ("q", "item", "state"))
    return render_template(
        "requests.html",
        rows=list(search(q, item, state)),
        q=q,
        item=item,
        state=state,
        items=catalogue().items(include_inactive=True),
        states=states.LABELS,
        attention=Request.select().where(Request.needs_attention).count(),
        last_sync=meta.get("last_sync_ok"),
    )


def timeline(req: Request) -> list[dict[str, Any]]:
    """The request's local events and the hub's updates, in time order."""
    out = []
    for ev in Event.select().where(Event.request_id == req.request_id).order_by(Event.id):
        if ev.result == "ok":
            sent = _("中心已确认")
        elif ev.result == "refused":
            sent = _("中心退回：%(result_message)s", result_message=tr(ev.result_message))
        elif ev.quarantined:
            sent = _("已隔离：%(result_message)s", result_message=tr(ev.result_message))
        else:
            sent = _("待上传")
        out.append(
            {
                "at": ev.at,
                "who": ev.clerk,
                "what": tr(EVENT_LABELS.get(ev.type, ev.type)),
                "side": _("本点"),
                "detail": _event_detail(req, ev),
                "sent": sent,
            }
        )
    for up in HubUpdate.select().where(HubUpdate.request_id == req.request_id).order_by(HubUpdate.cseq):
        body = up.body
        what = tr(states.ACTION_LABELS.get(body.get("action", ""), "") or states.label(body.get("state", "")))
        detail = _("；").join(
            x
            for x in (
                body.get("reason"),
                body.get("note"),
                _("缺：") + _("、").join(body["missing_names"]) if body.get("missing_names") else "",
            )
            if x
        )
        if up.type == "case.corrected":
            what = _("中心更正登记内容")
            detail = correction_text(body.get("field_label") or body.get("field"), body)
        out.append(
            {
                "at": body.get("at", ""),
                "who": hub_actor(body),
                "what": what or up.type,
                "side": _("中心"),
                "detail": detail,
                "sent": tr(states.label(body.get("state", ""))),
            }
        )
    # By the moment, not the text: the node's and the hub's timestamps are not written alike.
    return sorted(out, key=lambda r: china_time.sort_key(r["at"]))


def correction_text(label: Any, data: dict[str, Any]) -> str:
    """A correction in the history: which field, from what, to what, and why."""
    return _(
        "%(label)s：“%(old)s”改为“%(value)s”；原因：%(reason)s",
        label=tr(label) if label else "",
        old=data.get("old", ""),
        value=data.get("value", ""),
        reason=data.get("reason", ""),
    )


# Steps the hub takes on its own; updates sent before the hub named its actor fall back on these.
AUTOMATIC_ACTIONS = frozenset({"received", "supplemented", "withdrawn", "deadline_moved"})


def hub_actor(body: dict[str, Any]) -> str:
    """Who acted at the hub, in the clerk's words: a staff member's name, or 系统 for automatic steps.

    Updates from hubs before `actor_name` existed carry only the assignee's login name, which
    is not the clerk's word for anyone, so those show 乡镇中心 (or 系统 for an automatic step).
    """
    if body.get("actor_name"):
        return str(body["actor_name"])
    if body.get("action") in AUTOMATIC_ACTIONS or not body.get("action"):
        return _("系统")
    return _("乡镇中心")


def _event_detail(req: Request, ev: Event) -> str:
    data: dict[str, Any] = ev.data or {}
    if ev.type == "request.supplemented":
        return "、".join(catalogue().material_names(req.item_code, data.get("materials", [])))
    if ev.type == "request.feedback":
        paper = _("（纸质评价表）") if data.get("channel") == "paper" else ""
        return " ".join(x for x in (data.get("satisfaction"), paper, data.get("comment")) if x)
    if ev.type == "request.withdrawn":
        return data.get("reason", "")
    if ev.type == "request.corrected":
        return correction_text(corrections.label(catalogue(), req.item_code, str(data.get("field"))), data)
    return ""


def outstanding(req: Request) -> list[str]:
    """Material codes still owed: the hub's list once it has spoken, else what was missing at capture.

    A supplement recorded here updates both lists by the same shared rule the hub applies, so the
    remainder shown before the hub answers is the one it will answer with.
    """
    return list(req.materials_missing or []) if req.state in states.NODE_ONLY else list(req.hub_missing or [])


def hub_request_for_materials(req: Request) -> dict[str, Any] | None:
    """The hub's own latest 补正 request (not the village's list echoed back), or None if it made none."""
    up = HubUpdate.select().where(HubUpdate.request_id == req.request_id).order_by(HubUpdate.cseq.desc())
    for row in up:
        if row.body.get("action") == "ask_materials":
            return row.body
    return None


def clock_text(req: Request, item: dict[str, Any]) -> str:
    """What the village may say about the time limit: a due date only while one is running.

    The state of the clock comes from the one rule (shared.workdays.case_clock) on the hub's
    deadline: closed and waiting cases have none; a 补正 after 受理 pauses it.
    """
    if req.state in states.NODE_ONLY:
        return ""
    deadline = _date(req.deadline)
    view = case_clock(
        _CALENDAR,
        closed=states.is_terminal(req.state),
        start=_date(req.status_at) or date.today(),
        deadline=deadline,
        paused_days=0,
        paused_since=(_date(req.status_at) or date.today())
        if req.state == states.NEEDS_MATERIALS and deadline is not None
        else None,
        today=date.today(),
    )
    if view.state == CLOSED:
        return ""
    limit = (
        _("即办件，受理当日办结")
        if item.get("mode") == "immediate"
        else _("受理后 %(time_limit_days)s 个工作日", time_limit_days=item.get("time_limit_days", ""))
    )
    if req.state in states.WITH_COUNTY:
        return _("乡镇已初审通过并报县级审批（乡镇办理时限已完成），县级批复后通知")
    if view.state == WAITING:
        return _("尚未受理，补正期间不计时；材料补齐受理后计时（%(limit)s）", limit=limit)
    if view.state == PAUSED:
        return _("补正期间不计时（原定 %(deadline)s 前办结，补齐后顺延）", deadline=req.deadline)
    return _("%(deadline)s 前办结", deadline=req.deadline)


# The village knows the statutory calendar only; the hub's deadline already holds the township's own days.
_CALENDAR = WorkCalendar()


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def delivery(req: Request) -> str:
    """Where the request truly is: held here, saved here but not yet sent, or received by the centre."""
    if req.state == states.HELD:
        return _("已暂存在本代办点，尚未提交乡镇中心")
    captured = Event.get_or_none((Event.request_id == req.request_id) & (Event.type == "request.captured"))
    if captured is not None and captured.result is None:
        tried = _last_attempt(captured)
        return _("已保存在本代办点，尚未送达乡镇中心") + (
            _("（最近一次尝试发送：%(tried)s）", tried=tried) if tried else _("（还未尝试发送）")
        )
    if captured is not None and captured.result == "refused":
        return _("乡镇中心未接收：%(result_message)s", result_message=tr(captured.result_message))
    return _("乡镇中心已收到") + (
        _("，当前：%(state)s", state=tr(states.label(req.state))) if req.state not in states.NODE_ONLY else ""
    )


def _last_attempt(ev: Event) -> str:
    from .models import Batch

    batch = Batch.get_or_none(Batch.id == ev.batch_id) if ev.batch_id else None
    when = batch.last_attempt_at if batch is not None and batch.last_attempt_at else None
    if when is not None:
        return protocol.iso(when.replace(tzinfo=timezone.utc))
    return meta.get("last_error_at") or ""


@bp.get("/requests/<code>")
@login_required
def detail(code: str) -> Any:
    """One request: what was captured, its timeline and the hub's latest status."""
    return render_detail(stored_request(code))


def render_detail(req: Request, status: int = 200, **extra: Any) -> tuple[str, int]:
    """The detail page of a request; `extra` carries a form's error back next to that form."""
    cat = catalogue()
    item = cat.item(req.item_code) or {}
    owed = outstanding(req)
    materials = item.get("materials", [])
    return render_template(
        "request_detail.html",
        req=req,
        item=item,
        events=timeline(req),
        last_sync=meta.get("last_sync_ok"),
        attachments=for_request(req.request_id),
        materials=materials,
        material_name={m["code"]: m["name"] for m in materials},
        can_attach=req.state != states.HELD and not req.purged,
        attach_limit_mb=MAX_ATTACHMENT_BYTES // 1024 // 1024,
        **extra,
        brought_names=cat.material_names(req.item_code, req.materials_brought),
        missing_names=cat.material_names(req.item_code, owed),
        owed=[m for m in item.get("materials", []) if m["code"] in owed]
        or [m for m in item.get("materials", []) if m["code"] not in (req.materials_brought or [])],
        owed_names=cat.material_names(req.item_code, owed),
        hub_asked=hub_request_for_materials(req),
        clock_text=clock_text(req, item),
        delivery=delivery(req),
        satisfaction=ratings.LEVELS,
        saved=request.args.get("saved"),
        can_add=req.state not in (states.HELD,) and not states.is_terminal(req.state),
        can_withdraw=states.can_transition(req.state, states.WITHDRAWN),
        can_feedback=ratings.can_rate(req.state) and _rating(req) is None,
        rating=_rating(req),
        correctable=corrections.choices(cat, req.item_code),
        correct_refusal=correction_refusal(req),
    ), status


def correction_refusal(req: Request) -> str | None:
    """Why the clerk cannot correct this request now (shown instead of the form), or None."""
    from .corrections import refusal

    return refusal(req)


def _clerk_name() -> str:
    clerk = current_clerk()
    assert clerk is not None
    return clerk.name


def _latest_request_for_materials(req: Request) -> int | None:
    """The cseq of the hub's latest 补正 request this supplement answers."""
    for up in HubUpdate.select().where(HubUpdate.request_id == req.request_id).order_by(HubUpdate.cseq.desc()):
        if up.body.get("action") == "ask_materials":
            return up.cseq
    return None


@bp.post("/requests/<code>/supplement")
@login_required
def supplement(code: str) -> Any:
    """补正: the villager brought more materials."""
    req = stored_request(code)
    known = {m["code"] for m in catalogue().materials(req.item_code)}
    chosen = [c for c in request.form.getlist("materials") if c in known]
    if req.state == states.HELD or states.is_terminal(req.state):
        # Nothing is recorded: a closed case takes no more materials (the hub would refuse them too).
        log.warning("refused supplement on %s in state %s", req.receipt_code, req.state)
        flash(
            _("该申请%(state)s，", state=tr(states.label(req.state)))
            + (_("办理已终结，不能再补正材料") if states.is_terminal(req.state) else _("尚未提交，请直接修改后提交")),
            "error",
        )
    elif not chosen:
        flash(_("请勾选补交的材料"), "error")
    else:
        data: dict[str, Any] = {"materials": chosen}
        answers = _latest_request_for_materials(req)
        if answers is not None:
            data["answers_cseq"] = answers
        with database.atomic():
            add_event(req.receipt_code, "request.supplemented", _clerk_name(), data)
            req = Request.get_by_id(req.request_id)
            req.materials_brought, req.materials_missing = merge_supplement(
                req.materials_brought or [], req.materials_missing or [], chosen
            )
            # The hub applies the same rule on arrival; until it answers, its list is updated the same way.
            req.hub_missing = merge_supplement([], req.hub_missing or [], chosen)[1]
            names = set(catalogue().material_names(req.item_code, chosen))
            req.hub_missing_names = [n for n in (req.hub_missing_names or []) if n not in names]
            req.updated_at = now()
            req.save()
        scheduler.kick()
        flash(_("补正材料已记录，将随下次同步送达中心"))
    return redirect(url_for("requests.detail", code=req.receipt_code))


def _rating(req: Request) -> Event | None:
    """The matter's one rating (一次一评), unless the hub refused it."""
    return (
        Event.select()
        .where(
            (Event.request_id == req.request_id)
            & (Event.type == "request.feedback")
            & ((Event.result.is_null()) | (Event.result != "refused"))
        )
        .order_by(Event.id)
        .first()
    )


@bp.post("/requests/<code>/feedback")
@login_required
def feedback(code: str) -> Any:
    """好差评 at pickup, or entered later from the paper form: one rating per matter."""
    req = stored_request(code)
    value = request.form.get("satisfaction", "")
    comment = request.form.get("comment", "").strip()
    errors = ratings.check(value, comment)
    if errors:
        flash(tr(joined(errors)), "error")
    elif not ratings.can_rate(req.state):
        flash(tr(ratings.NOT_RATEABLE), "error")
    elif _rating(req) is not None:
        flash(tr(ratings.ALREADY_RATED), "error")
    else:
        data = {"satisfaction": value, "comment": comment}
        if request.form.get("paper") == "on":
            data["channel"] = "paper"
        add_event(req.receipt_code, "request.feedback", _clerk_name(), data)
        scheduler.kick()
        flash(_("评价已记录，将随下次同步送达中心"))
    return redirect(url_for("requests.detail", code=req.receipt_code))


@bp.post("/requests/<code>/withdraw")
@login_required
def withdraw(code: str) -> Any:
    """Withdraw at the villager's wish (a held request is withdrawn here; others via the hub)."""
    req = stored_request(code)
    was_held = req.state == states.HELD
    try:
        withdraw_request(req.receipt_code, _clerk_name(), request.form.get("reason", ""))
    except WithdrawRefused as refused:
        flash(tr(refused.message), "error")
    else:
        scheduler.kick()
        if was_held:
            flash(_("暂存的申请已撤回；撤回记录将随下次同步报中心备查"))
        else:
            flash(_("撤回申请已记录，中心确认后状态变为“已撤回”"))
    return redirect(url_for("requests.detail", code=req.receipt_code))


@bp.post("/requests/<code>/release")
@login_required
def release(code: str) -> Any:
    """Send a request the clerk held locally."""
    req = stored_request(code)
    if req.state != states.HELD:
        flash(_("只有暂存的申请可以提交"), "error")
    else:
        release_held(req.receipt_code, _clerk_name())
        scheduler.kick()
        flash(_("已提交，将随下次同步送达中心"))
    return redirect(url_for("requests.detail", code=req.receipt_code))
