"""镇长信箱 at the village point: the clerk captures a villager's message, prints its receipt, and prints
the township's reply once it comes down with a sync.

A message is an event (message.left) in the same signed outbox as requests, with its own receipt
code; the hub's answers arrive as updates for the message's id (message.status, message.reply).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shared import mailbox, protocol
from shared.i18n import tr
from shared.msgid import joined
from shared.receipt_codes import format_code, normalise

from . import meta, scheduler
from .auth import current_clerk, login_required
from .capture import _unique_code, append_event, catalogue
from .db import database
from .models import Event, HubUpdate

bp = Blueprint("mailbox", __name__)
RECENT = 200


def _messages() -> list[Event]:
    return list(Event.select().where(Event.type == mailbox.EVENT_TYPE).order_by(Event.id.desc()).limit(RECENT))


def _updates(message_id: str) -> dict[str, Any]:
    """The hub's latest word on a message: routing and deadline, then the reply."""
    out: dict[str, Any] = {}
    for up in HubUpdate.select().where(HubUpdate.request_id == message_id).order_by(HubUpdate.cseq):
        out.update({k: v for k, v in up.body.items() if v is not None})
    return out


def leave(form: dict[str, str], clerk: str) -> Event:
    """Validate and queue a message; raises ValueError with the Chinese messages when it cannot be taken."""
    errors = mailbox.validate(form, {w["code"] for w in catalogue().windows()})
    if errors:
        raise ValueError(joined([e.message for e in errors]))
    data = mailbox.clean(form)
    with database.atomic():
        data["receipt_code"] = _unique_code(meta.get("prefix", "22"))
        return append_event(mailbox.EVENT_TYPE, protocol.new_id(), clerk, data)


@bp.route("/messages", methods=["GET", "POST"])
@login_required
def index() -> Any:
    """The form and the messages left at this point, with the township's replies."""
    form: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("category", "content", "name", "phone", "about", "window")}
        clerk = current_clerk()
        assert clerk is not None
        try:
            ev = leave(form, clerk.name)
        except ValueError as exc:
            flash(tr(exc.args[0]), "error")
            status = 400
        else:
            scheduler.kick()
            flash(_("留言已记录，将随下次同步送达乡镇；请打印回执交给群众"))
            return redirect(url_for("mailbox.receipt", code=ev.data["receipt_code"]))
    rows = [(ev, _updates(ev.request_id)) for ev in _messages()]
    return render_template(
        "messages.html",
        rows=rows,
        form=form,
        categories=mailbox.CATEGORIES,
        windows=catalogue().windows(),
        max_content=mailbox.MAX_CONTENT,
    ), status


@bp.get("/messages/<code>")
@login_required
def receipt(code: str) -> Any:
    """The message's receipt, with the reply once it has come down: printable for the villager."""
    wanted = normalise(code)[:16]
    ev = next((e for e in _messages() if e.data.get("receipt_code") == wanted), None)
    if ev is None:
        abort(404)
    return render_template(
        "message_receipt.html",
        ev=ev,
        data=ev.data,
        up=_updates(ev.request_id),
        categories=mailbox.CATEGORIES,
        code=format_code(wanted),
        window_name=catalogue().window_name(ev.data["window"]) if ev.data.get("window") else "",
        hub=(meta.get("hub_url") or "").rstrip("/"),
    )
