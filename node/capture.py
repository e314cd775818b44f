"""Capturing requests and the clerk's later events; each commits the request and its event together."""

from __future__ import annotations

from typing import Any

from shared import protocol, states
from shared.catalogue import Catalogue
from shared.receipt_codes import code_prefix, new_code
from shared import intake
from shared.msgid import N_
from shared.validation import (
    NOTES_MAX,
    WITHDRAW_REASON_MAX,
    FieldError,
    duplicate_application,
    validate_capture,
)

from . import meta
from .clock import now
from .db import database
from .models import Event, Request


class CaptureError(Exception):
    """The form has problems; nothing was saved. Holds every field error at once."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("；".join(e.message for e in errors))
        self.errors = errors


def catalogue() -> Catalogue:
    """The catalogue this node holds (synced down from the hub)."""
    data = meta.get("catalogue")
    return Catalogue(data) if data else Catalogue.default()


def append_event(type_: str, request_id: str, clerk: str, data: dict[str, Any]) -> Event:
    """Add an event to the outbox (caller holds the transaction); it gets its seq when batched."""
    return Event.create(
        event_id=protocol.new_event_id(type_, request_id),
        type=type_,
        request_id=request_id,
        clerk=clerk,
        at=protocol.event_time(),
        data=data,
    )


def _unique_code(prefix: str) -> str:
    while True:
        code = new_code(prefix)
        if not Request.select().where(Request.receipt_code == code).exists():
            return code


def _unique_request_id(prefix: str) -> str:
    # 52 random bits a day are unique enough; the check makes it so against all this village holds,
    # also when the PC's clock repeats a day or goes back (the ids then only lose their order).
    while True:
        request_id = protocol.new_request_id(prefix, now())
        if not Request.select().where(Request.request_id == request_id).exists():
            return request_id


def open_request_for(id_number: str, item_code: str) -> Request | None:
    """This point's open request of this ID number for this item (held ones included), if any."""
    return (
        Request.select()
        .where(
            (Request.id_number == id_number)
            & (Request.item_code == item_code)
            & Request.state.not_in(list(states.TERMINAL))
        )
        .order_by(Request.created_at)
        .first()
    )


def capture_request(form: dict[str, Any], clerk: str) -> Request:
    """Validate and save a new request; the event is queued unless the clerk holds it locally."""
    cat = catalogue()
    data = intake.normalise_capture(dict(form))
    applicant = data["applicant"]
    errors = validate_capture(cat, data)
    if errors:
        raise CaptureError(errors)
    item = cat.item(data["item_code"])
    assert item is not None
    earlier = open_request_for(applicant["id_number"], item["code"])
    if earlier is not None:
        # 两头受理 caught at the point itself; the hub flags those taken elsewhere (another point, the counter).
        raise CaptureError([duplicate_application(earlier.receipt_code, item["name"])])
    materials = data.get("materials") or {}
    brought = list(materials.get("brought", []))
    missing = list(materials.get("missing", []))
    for code in cat.missing_materials(item["code"], brought):
        if code not in missing:
            missing.append(code)
    with database.atomic():
        code = _unique_code(meta.get("prefix", "22"))
        record = {
            "receipt_code": code,
            "item_code": item["code"],
            "catalogue_version": cat.version,
            "applicant": {k: applicant.get(k, "") for k in ("name", "id_number", "phone", "address", "group")},
            "fields": data.get("fields") or {},
            "materials": {"brought": brought, "missing": missing},
            "submit": data["submit"],
            "notes": str(data.get("notes") or "")[:NOTES_MAX],
            # The villager agreed at capture to SMS about this request (the hub honours later opt-outs).
            "sms": data.get("sms") is True,
        }
        held = data["submit"] == "held"
        req = Request.create(
            request_id=_unique_request_id(code_prefix(code)),
            receipt_code=code,
            item_code=item["code"],
            kind=item["kind"],
            applicant_name=applicant["name"],
            id_number=applicant["id_number"],
            id_tail=applicant["id_number"][-4:],
            phone=applicant["phone"],
            address=applicant.get("address", ""),
            data=record,
            materials_brought=brought,
            materials_missing=missing,
            state=states.HELD if held else states.QUEUED,
            window=item["window"],
            window_name=cat.window_name(item["window"]),
            clerk=clerk,
            created_at=now(),
            updated_at=now(),
        )
        if not held:
            append_event("request.captured", req.request_id, clerk, record)
    return req


def release_held(receipt_code: str, clerk: str) -> Request:
    """Send a request the clerk held locally."""
    with database.atomic():
        req = Request.get(Request.receipt_code == receipt_code)
        states.check_transition(req.state, states.QUEUED)
        record = dict(req.data, submit="awaiting_materials" if req.materials_missing else "submitted")
        req.data = record
        req.state = states.QUEUED
        req.updated_at = now()
        req.save()
        append_event("request.captured", req.request_id, clerk, record)
    return req


class WithdrawRefused(Exception):
    """The withdrawal was not recorded; `message` says why (marked, said again in the reader's language)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def withdraw(receipt_code: str, clerk: str, reason: str) -> Request:
    """Withdraw a request at the villager's wish; the web page and `daiban node withdraw` both call this.

    The log is the record (首问负责制), so nothing changes state without an event: a request held
    here gets its capture and its withdrawal logged and is withdrawn at once (the centre is told, as
    captured and withdrawn, never silently dropped); a request already sent gets a withdrawal event,
    and its state follows the centre's answer (the centre decides whether it can still be withdrawn).
    """
    reason = reason.strip()
    if not reason:
        raise WithdrawRefused(N_("请填写撤回原因"))
    if len(reason) > WITHDRAW_REASON_MAX:
        raise WithdrawRefused(N_("撤回原因不能超过 %(max)s 字", max=WITHDRAW_REASON_MAX))
    with database.atomic():
        req = Request.get(Request.receipt_code == receipt_code)
        if not states.can_transition(req.state, states.WITHDRAWN):
            raise WithdrawRefused(N_("当前状态（%(state)s）不能撤回", state=states.label(req.state)))
        if req.state == states.HELD:
            append_event("request.captured", req.request_id, clerk, dict(req.data, submit="held"))
            req.state = states.WITHDRAWN
            req.reason = reason
        append_event("request.withdrawn", req.request_id, clerk, {"reason": reason})
        req.updated_at = now()
        req.save()
    return req


def add_event(receipt_code: str, type_: str, clerk: str, data: dict[str, Any]) -> Event:
    """Record a supplement, feedback or withdrawal on an existing request."""
    with database.atomic():
        req = Request.get(Request.receipt_code == receipt_code)
        event = append_event(type_, req.request_id, clerk, data)
        req.updated_at = now()
        req.save()
    return event
