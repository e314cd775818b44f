"""镇长信箱: messages from /mailbox and from village nodes, routed, answered within a deadline.

- Routing: consultations and suggestions go to a window (the one the villager chose, else
  MAILBOX_DEFAULT_WINDOW, 群众工作站); complaints go to the supervisors. The person a complaint
  names (matched on staff name or username) can never answer it, whatever their role.
- Deadline: MAILBOX_REPLY_DAYS working days (5 by default) from receipt, coloured yellow/red by the
  same rule as cases (shared.workdays). The reply goes back to the village node on its next sync
  and is shown on the public status page with the message's code and second factor.
- Floods: at most MAILBOX_LIMIT messages per MAILBOX_PERIOD_S from one address and from one phone
  number on the public page, counted from the stored messages themselves (so every worker agrees);
  the address is kept only as a keyed hash.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from shared import mailbox, protocol
from shared.i18n import tr
from shared.msgid import N_, joined
from shared.receipt_codes import format_code, issued_by, new_code, normalise
from shared.validation import mask_name
from shared.workdays import GREEN, RED

from . import audit, cases, deadlines
from .auth import current_user, login_required
from .catalogue_store import current as current_catalogue
from .clock import china_date, now, today
from .db import database, one_by
from .models import Case, MailMessage, Node, Staff

bp = Blueprint("mailbox", __name__)
log = logging.getLogger("daiban.hub.mailbox")

DEFAULT_WINDOW = "W04"  # 群众工作站
DEFAULT_LIMIT = 3
DEFAULT_PERIOD_S = 3600
ROUTES = {"window": N_("窗口"), "supervisor": N_("效能监督")}
_DUMMY = "\x00" * 4


class MailRefused(Exception):
    """A message or reply that cannot be taken, with its reason in Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _cfg(key: str, default: int) -> int:
    try:
        return int(current_app.config.get(key, default))
    except RuntimeError:  # outside an app context (jobs): the default
        return default


def reply_days() -> int:
    """Working days to answer a message (config MAILBOX_REPLY_DAYS)."""
    return _cfg("MAILBOX_REPLY_DAYS", mailbox.DEFAULT_REPLY_DAYS)


def route(category: str, window: str, about: str) -> tuple[str, str | None, str | None]:
    """(route, window, named staff) for a message: complaints to supervisors, the rest to a window."""
    named = None
    if about:
        staff = Staff.get_or_none((Staff.name == about) | (Staff.username == about))
        named = staff.username if staff else None
    if category == "complaint":
        return "supervisor", window or None, named
    try:
        default = current_app.config.get("MAILBOX_DEFAULT_WINDOW", DEFAULT_WINDOW)
    except RuntimeError:
        default = DEFAULT_WINDOW
    return "window", window or default, named


def create(
    data: dict[str, Any], *, code: str, message_id: str, channel: str, node: Node | None = None, client: str = ""
) -> MailMessage:
    """Store a cleaned, valid message with its route and deadline (caller holds the transaction)."""
    if (
        MailMessage.select().where((MailMessage.code == code) | (MailMessage.message_id == message_id)).exists()
        or Case.select().where(Case.receipt_code == code).exists()
    ):
        raise MailRefused("duplicate_message", N_("该留言已在中心登记"))
    at = now()
    on = china_date(at)
    route_, window, named = route(data["category"], data["window"], data["about"])
    msg = MailMessage.create(
        code=code,
        message_id=message_id,
        node=node,
        village=node.village_id if node else None,
        channel=channel,
        category=data["category"],
        content=data["content"],
        name=data["name"],
        phone=data["phone"],
        check=mailbox.second_factor(data["phone"], data["pin"]),
        about=data["about"],
        about_staff=named,
        window=window,
        route=route_,
        client=client,
        received_at=at,
        received_on=on,
        due=deadlines.calendar().add_workdays(on, reply_days()),
    )
    audit.record(
        node.node_id if node else "villager",
        "mailbox.received",
        code,
        {"category": data["category"], "route": route_, "window": window},
    )
    return msg


def check_message(node: Node, data: dict[str, Any]) -> dict[str, Any]:
    """The cleaned message of a message.left event, or MailRefused saying in Chinese what is wrong."""
    errors = mailbox.validate(data, {w["code"] for w in current_catalogue().windows()})
    if errors:
        raise MailRefused(errors[0].code, joined([e.message for e in errors]))
    code = normalise(str(data.get("receipt_code", "")))
    if not issued_by(code, node.village.prefix):
        raise MailRefused("bad_receipt_code", N_("留言编号无效"))
    pin = data.get("pin", "")
    if not data.get("phone") and not (isinstance(pin, str) and len(pin) == 4 and pin.isdigit()):
        raise MailRefused("bad_pin", N_("未留手机号的留言须有四位查询码"))
    return dict(mailbox.clean(data), pin=pin, receipt_code=code)


def ingest_message(node: Node, ev: dict[str, Any], cleaned: dict[str, Any]) -> None:
    """Store a checked village message and tell the village where it went and by when."""
    msg = create(cleaned, code=cleaned["receipt_code"], message_id=ev["request_id"], channel="village", node=node)
    cases.append_hub_event(node, msg.message_id, "message.status", status_body(msg), "system")


def status_body(msg: MailMessage) -> dict[str, Any]:
    """What the village is told about its message: where it went, by when, and the reply once given."""
    return {
        "receipt_code": msg.code,
        "route": ROUTES[msg.route],
        "due": msg.due.isoformat(),
        "window_name": current_catalogue().window_name(msg.window) if msg.window else None,
        "reply": msg.reply,
        "replied_on": msg.replied_on.isoformat() if msg.replied_on else None,
    }


def colour(msg: MailMessage, on: date | None = None) -> str:
    """green / yellow / red for an unanswered message, by the cases' rule."""
    if msg.replied_at is not None:
        return GREEN
    return deadlines.open_colour(msg.received_on, msg.due, on)


def refusal_to_reply(staff: Staff, msg: MailMessage) -> str | None:
    """Why this person may not answer this message, or None when they may."""
    if not staff.active:
        return N_("该账号已停用")
    if msg.about_staff and staff.username == msg.about_staff:
        return N_("该投诉涉及您本人，由效能监督人员答复，您不能答复")
    if msg.route == "supervisor" and staff.role not in ("supervisor", "admin"):
        return N_("投诉由效能监督人员答复，您不能答复")
    if msg.route == "window" and staff.role not in ("supervisor", "admin") and msg.window not in (staff.windows or []):
        return N_("该留言不属于您负责的窗口，不能答复")
    return None


def reply(code: str, staff: Staff, text: Any, outcome: Any = "") -> MailMessage:
    """Answer a message once; a complaint's answer records what was done (投诉责任追究)."""
    try:
        return _reply(code, staff, text, outcome)
    except MailRefused as exc:
        if exc.code == "not_responsible":
            # The refused reply left nothing behind; the attempt itself is kept on the audit chain.
            audit.record(staff.username, "mailbox.refused_reply", normalise(code)[:16], {"reason": exc.message})
        raise


def _reply(code: str, staff: Staff, text: Any, outcome: Any) -> MailMessage:
    with database.atomic():
        msg = MailMessage.get_or_none(MailMessage.code == normalise(code)[:16])
        if msg is None:
            raise MailRefused("no_message", N_("没有这条留言"))
        why = refusal_to_reply(staff, msg)
        if why:
            raise MailRefused("not_responsible", why)
        if msg.replied_at is not None:
            raise MailRefused("replied", N_("该留言已经答复，不能重复答复"))
        body = text.strip() if isinstance(text, str) else ""
        result = outcome.strip() if isinstance(outcome, str) else ""
        if not body:
            raise MailRefused("empty", N_("请填写答复内容"))
        if len(body) > mailbox.MAX_REPLY or len(result) > mailbox.MAX_REPLY:
            raise MailRefused("too_long", N_("答复不能超过%(MAX_REPLY)s个字", MAX_REPLY=mailbox.MAX_REPLY))
        if msg.category == "complaint" and not result:
            raise MailRefused("no_outcome", N_("投诉须填写核查处理结果（责任追究情况）"))
        at = now()
        msg.reply, msg.replied_by, msg.replied_at, msg.replied_on = body, staff.username, at, china_date(at)
        msg.outcome = result or None
        msg.save()
        if msg.node_id:
            node = cases.lock_node(msg.node_id)
            cases.append_hub_event(node, msg.message_id, mailbox.REPLY_TYPE, status_body(msg), staff.username)
        audit.record(staff.username, "mailbox.replied", msg.code, {"late": msg.replied_on > msg.due})
    return msg


def public_lookup(code_text: str, factor: str) -> dict[str, Any] | None:
    """The message for the status page when its code and second factor match, by one path for every miss."""
    code = normalise(code_text)[:16]
    # Asked on every status-page miss: by SQL compiled once (building the query cost ~0.4 ms).
    msg: MailMessage | None = one_by(MailMessage.code, code)
    expected = msg.check if msg is not None else _DUMMY
    # secrets.compare_digest: constant time, so a wrong factor and an unknown code take as long.
    matches = secrets.compare_digest(expected.encode(), factor.encode()[:8])
    if msg is None or not matches:
        return None
    return {
        "code": format_code(msg.code),
        "category": mailbox.CATEGORIES[msg.category],
        "name": mask_name(msg.name) if msg.name else "",
        "received": msg.received_on,
        "due": msg.due,
        "content": msg.content,
        "reply": msg.reply,
        "replied_on": msg.replied_on,
    }


def _client_key(addr: str) -> str:
    secret = str(current_app.config.get("SECRET_KEY") or "")
    return hashlib.sha256(f"{secret}|{addr}".encode()).hexdigest()[:32]


def over_limit(client: str, phone: str) -> bool:
    """True when this address or phone already left MAILBOX_LIMIT messages in the period."""
    limit = _cfg("MAILBOX_LIMIT", DEFAULT_LIMIT)
    since = now() - timedelta(seconds=_cfg("MAILBOX_PERIOD_S", DEFAULT_PERIOD_S))
    recent = MailMessage.select().where((MailMessage.received_at >= since) & (MailMessage.channel == "online"))
    if recent.where(MailMessage.client == client).count() >= limit:
        return True
    return bool(phone) and recent.where(MailMessage.phone == phone).count() >= limit


# --- figures ------------------------------------------------------------------------


def figures(rows: list[MailMessage], on: date) -> dict[str, Any]:
    """Messages received, replied, on time, overdue; reply rate; complaints per window with outcomes."""
    replied = [m for m in rows if m.replied_at is not None]
    on_time = [m for m in replied if m.replied_on <= m.due]
    per_window: dict[str, dict[str, Any]] = defaultdict(lambda: {"complaints": 0, "replied": 0, "outcomes": []})
    cat = current_catalogue()
    for m in rows:
        if m.category == "complaint":
            line = per_window[cat.window_name(m.window) if m.window else _("未指明窗口")]
            line["complaints"] += 1
            if m.replied_at is not None:
                line["replied"] += 1
                line["outcomes"].append(m.outcome or "")
    return {
        "received": len(rows),
        "replied": len(replied),
        "on_time": len(on_time),
        "overdue": sum(1 for m in rows if colour(m, on) == RED),
        "reply_rate": len(replied) / len(rows) if rows else None,
        "on_time_rate": len(on_time) / len(replied) if replied else None,
        "complaints": dict(sorted(per_window.items())),
    }


def summary() -> dict[str, Any]:
    """The figures over every message, for the supervision dashboard."""
    return figures(list(MailMessage.select()), today())


# --- pages --------------------------------------------------------------------------


def _windows() -> list[dict[str, str]]:
    return current_catalogue().windows()


@bp.route("/mailbox", methods=["GET", "POST"])
def public_form() -> Any:
    """The public page: leave a consultation, complaint or suggestion; get a code to check the reply."""
    ctx: dict[str, Any] = {
        "categories": mailbox.CATEGORIES,
        "windows": _windows(),
        "errors": [],
        "form": {},
        "done": None,
        "max_content": mailbox.MAX_CONTENT,
        "days": reply_days(),
    }
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("category", "content", "name", "phone", "about", "window")}
        ctx["form"] = form
        errors = mailbox.validate(form, {w["code"] for w in _windows()})
        client = _client_key(request.remote_addr or "unknown")
        if errors:
            ctx["errors"], status = [tr(e.message) for e in errors], 400
        else:
            data = mailbox.clean(form)
            with database.atomic():
                if over_limit(client, data["phone"]):
                    log.warning("mailbox flood from one address or phone")
                    ctx["errors"], status = [_("留言过于频繁，请一小时后再试，或到村代办点留言。")], 429
                else:
                    code = _free_code()
                    msg = create(data, code=code, message_id=protocol.new_id(), channel="online", client=client)
                    ctx["done"] = {
                        "code": format_code(msg.code),
                        "pin": data["pin"],
                        "due": msg.due,
                        "phone": bool(data["phone"]),
                    }
                    ctx["form"] = {}
    resp = make_response(render_template("public/mailbox.html", **ctx), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _free_code() -> str:
    while True:
        code = new_code(mailbox.HUB_PREFIX)
        if not MailMessage.select().where(MailMessage.code == code).exists():
            return code


def may_see(user: Staff, m: MailMessage) -> bool:
    """Supervisors see every message except a complaint about themselves; others what they answer."""
    if m.about_staff == user.username:
        return False
    return user.role in ("supervisor", "admin") or refusal_to_reply(user, m) is None


def _visible(user: Staff) -> list[MailMessage]:
    rows = MailMessage.select().order_by(MailMessage.replied_at.is_null(False), MailMessage.due, MailMessage.id)
    return [m for m in rows if may_see(user, m)]


@bp.get("/console/mailbox")
@login_required()
def index() -> Any:
    """Messages this person answers (supervisors: all but complaints about themselves), with the figures."""
    user = current_user()
    assert user is not None
    rows = _visible(user)
    on = today()
    return render_template(
        "mailbox/index.html",
        rows=rows,
        colour=lambda m: colour(m, on),
        figures=figures(rows, on),
        categories=mailbox.CATEGORIES,
        routes=ROUTES,
        cat=current_catalogue(),
        supervisor=user.role in ("supervisor", "admin"),
    )


def _message_page(code: str, error: str | None = None, status: int = 200) -> Any:
    user = current_user()
    assert user is not None
    msg = MailMessage.get_or_none(MailMessage.code == normalise(code)[:16])
    if msg is None:
        abort(404)
    if not may_see(user, msg):
        return render_template("console/error.html", title=_("不能查看"), message=_("您不能查看这条留言")), 403
    return render_template(
        "mailbox/detail.html",
        m=msg,
        error=error,
        colour=colour(msg),
        categories=mailbox.CATEGORIES,
        routes=ROUTES,
        cat=current_catalogue(),
        may_reply=refusal_to_reply(user, msg) is None,
    ), status


@bp.get("/console/mailbox/<code>")
@login_required()
def detail(code: str) -> Any:
    """One message and the reply form."""
    return _message_page(code)


@bp.post("/console/mailbox/<code>/reply")
@login_required()
def post_reply(code: str) -> Any:
    """Answer a message; someone not responsible is refused and nothing changes."""
    user = current_user()
    assert user is not None
    try:
        msg = reply(code, user, request.form.get("reply"), request.form.get("outcome", ""))
    except MailRefused as exc:
        if exc.code == "no_message":
            abort(404)
        if exc.code == "not_responsible":
            return render_template("console/error.html", title=_("不能答复"), message=tr(exc.message)), 403
        return _message_page(code, tr(exc.message), 400)
    flash(_("答复已记录") + (_("，将随下次同步送到村代办点") if msg.node_id else ""))
    return redirect(url_for("mailbox.detail", code=msg.code))


bp.add_app_template_global(summary, "mailbox_summary")
