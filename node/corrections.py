"""Corrections at the village point: the clerk's own (before the hub's 受理), and the hub's coming down.

The clerk's correction is a `request.corrected` event on the node's log, signed and synced like
the others; the hub checks it again by the same rule (shared/corrections.check) and refuses it if
the centre accepted the case meanwhile. A correction window staff made at the hub arrives as a
`case.corrected` update and is applied to the local copy of the request.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from shared import states
from shared.i18n import tr
from shared.corrections import Correction, CorrectionError, check, columns, with_value

from .capture import append_event, catalogue, now
from .db import database
from .models import HubUpdate, Request

# Hub states that mean the centre has accepted (受理) or closed the case.
_AFTER_ACCEPT = frozenset({states.ACCEPTED, states.APPROVED, states.DENIED})


def accepted_by_hub(req: Request) -> bool:
    """Whether the centre has accepted the case (受理): the clerk may no longer correct it."""
    if req.state in _AFTER_ACCEPT:
        return True
    return any(
        up.body.get("action") in ("accept", "approve") or up.body.get("state") in _AFTER_ACCEPT
        for up in HubUpdate.select().where(HubUpdate.request_id == req.request_id)
    )


def refusal(req: Request) -> str | None:
    """Why the clerk may not correct this request now, in the page's language; None when they may."""
    if req.purged:
        return _("该申请的个人信息已按期清除，不能更正")
    if states.is_terminal(req.state):
        return _("该申请已%(state)s，办理已终结，不能更正", state=tr(states.label(req.state)))
    if req.state == states.HELD:
        return _("暂存的申请尚未提交：请先提交到乡镇中心，再更正")
    if accepted_by_hub(req):
        window = req.window_name or _("相关")
        return _("中心已受理此件，代办员不能再更正；请联系中心%(window)s窗口工作人员更正", window=window)
    return None


def correct(receipt_code: str, field: str, value: str, reason: str, clerk: str) -> Correction:
    """Record the clerk's correction as an event and apply it here; CorrectionError changes nothing."""
    with database.atomic():
        req = Request.get(Request.receipt_code == receipt_code)
        why = refusal(req)
        if why is not None:
            raise CorrectionError("not_correctable", why)
        fix = check(catalogue(), dict(req.data or {}), field, value, reason)
        append_event(
            "request.corrected",
            req.request_id,
            clerk,
            {"field": fix.field, "value": fix.value, "reason": fix.reason, "old": fix.old},
        )
        _write(req, fix.record, fix.field, fix.value)
    return fix


def _write(req: Request, record: dict[str, Any], field: str, value: str) -> None:
    req.data = record
    for column, v in columns(field, value).items():
        setattr(req, column, v)
    if field == "applicant.id_number":
        req.id_tail = value[-4:]
    if field == "applicant.address":
        req.address = value
    req.updated_at = now()
    req.save()


def apply_from_hub(up: dict[str, Any]) -> None:
    """A `case.corrected` update: window staff corrected a field at the hub; the local copy follows."""
    req = Request.get_or_none(Request.request_id == up.get("request_id"))
    field, value = up.get("field"), up.get("value")
    if req is None or not isinstance(field, str) or not isinstance(value, str):
        return
    _write(req, with_value(dict(req.data or {}), field, value), field, value)
