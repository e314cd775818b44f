"""窗口收件: window staff take a walk-in request at the centre's counter.

The same catalogue form, the same validation (shared.intake, shared.validation), the same
one-time notice and the same printed receipt as at a village point. A counter case has no
village node: it carries ``source = "counter"``, the applicant's village as chosen at the
counter, and the receiving staff member as 首问责任人 (``received_by``); its receipt code has
the counter's reserved prefix. From there it is a case like any other: queue, register,
figures, supervision. An immediate item with every material in can be received and completed
in one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from shared import intake, protocol, states
from shared.msgid import joined
from shared.receipt_codes import COUNTER_PREFIX, new_code
from shared.validation import FieldError, duplicate_application, validate_capture

from . import audit, cases, duplicates, notices, routing
from .catalogue_store import current as current_catalogue
from .clock import china_date, now
from .db import database
from .models import Assignment, Case, Staff, Village
from .staff import covers


@dataclass
class CounterRefused(Exception):
    """A walk-in the counter will not take as filled in: every problem at once; nothing was saved."""

    errors: list[FieldError]

    @property
    def message(self) -> str:
        return joined([e.message for e in self.errors])


def _unique_code() -> str:
    while True:
        code = new_code(COUNTER_PREFIX)
        if not Case.select().where(Case.receipt_code == code).exists():
            return code


def _village(village_id: Any) -> Village | None:
    text = str(village_id or "").strip()
    return Village.get_or_none(Village.id == int(text)) if text.isdigit() and len(text) < 10 else None


def _problems(data: dict[str, Any], village_id: Any, complete_now: bool, staff: Staff) -> list[FieldError]:
    """Everything wrong with this walk-in, the shared capture rules first."""
    catalogue = current_catalogue()
    errors = validate_capture(catalogue, data)
    if data.get("submit") == "held":
        errors.append(FieldError("submit", "submit_choice", _("窗口收件不能暂存，请直接提交")))
    if _village(village_id) is None:
        errors.append(FieldError("village", "unknown_village", _("请选择申请人所在的村（社区）")))
    item = catalogue.item(str(data.get("item_code")))
    if errors or item is None:
        return errors
    earlier = duplicates.open_code_for(data["applicant"]["id_number"], item["code"])
    if earlier is not None:
        errors.append(duplicate_application(earlier, item["name"]))
    if complete_now:
        if item["mode"] != "immediate":
            errors.append(FieldError("complete_now", "immediate_only", _("只有即办件可以当场受理并办结")))
        elif data["materials"]["missing"] or catalogue.missing_materials(item["code"], data["materials"]["brought"]):
            errors.append(
                FieldError("complete_now", "materials_missing", _("材料尚未齐全，不能当场办结；请出具一次性告知单"))
            )
        elif not covers(staff, item["window"]):
            errors.append(
                FieldError(
                    "complete_now",
                    "not_your_window",
                    _(
                        "您不负责%(window)s窗口，不能当场办结，请交该窗口办理",
                        window=catalogue.window_name(item["window"]),
                    ),
                )
            )
    return errors


def receive(form_data: dict[str, Any], village_id: Any, staff: Staff, complete_now: bool = False) -> Case:
    """Take a walk-in request: one case with its first log entry, or CounterRefused with nothing saved.

    With `complete_now` an immediate item is accepted and completed (办结) in the same step; the
    returned case then carries the completion's log entry as ``case.event``.
    """
    data = intake.normalise_capture(form_data)
    errors = _problems(data, village_id, complete_now, staff)
    if errors:
        # The refused walk-in is kept on the audit chain (codes only: no personal data in the log).
        audit.record(
            staff.username,
            "counter.refused",
            str(data.get("item_code", ""))[:40],
            {"codes": [e.code for e in errors], "fields": [e.field for e in errors]},
        )
        raise CounterRefused(errors)
    catalogue = current_catalogue()
    item = catalogue.item(data["item_code"])
    assert item is not None
    applicant = data["applicant"]
    brought = list(data["materials"]["brought"])
    window = routing.window_for(catalogue, item["code"])
    with database.atomic():
        code = _unique_code()
        request_id = protocol.new_id()
        received = now()
        # The receiver handles what they can; otherwise the window's routing rule picks someone.
        assignee = (
            staff.username
            if window in (staff.windows or [])
            else routing.assignee_for(window, request_id, staff.username)
        )
        record = {
            "receipt_code": code,
            "item_code": item["code"],
            "catalogue_version": catalogue.version,
            "applicant": {k: applicant.get(k, "") for k in intake.APPLICANT_KEYS},
            "fields": data.get("fields") or {},
            "materials": {"brought": brought, "missing": list(data["materials"]["missing"])},
            "submit": data["submit"],
            "notes": str(data.get("notes") or ""),
            "sms": data.get("sms") is True,
        }
        case = Case(
            request_id=request_id,
            receipt_code=code,
            node=None,
            village=int(village_id),
            item_code=item["code"],
            window=window,
            mode=item["mode"],
            state=states.RECEIVED,
            assignee=assignee,
            clerk=None,
            applicant_name=applicant["name"],
            id_number=applicant["id_number"],
            phone=applicant["phone"],
            captured=record,
            materials_brought=brought,
            materials_missing=list(data["materials"]["missing"]),
            received_at=received,
            received_on=china_date(received),
            updated_at=received,
            source="counter",
            received_by=staff.username,
        )
        cases.open_clock(case, catalogue)
        case.save(force_insert=True)
        if assignee == staff.username:
            # Recorded like routing's own picks, so its count and tie-break see this case too.
            Assignment.create(
                username=assignee,
                window=window,
                request_id=request_id,
                by=staff.username,
                reason="窗口收件",
                at=received,
            )
        if case.materials_missing:
            # 一次告知 at the counter: the one-time notice is printed from this entry.
            case.event = cases.announce(
                None,
                case,
                staff.username,
                catalogue,
                action="ask_materials",
                paper=notices.facts(case, "ask_materials", staff.username, catalogue),
            )
        else:
            case.event = cases.announce(None, case, staff.username, catalogue, action="received")
        audit.record(
            staff.username,
            "counter.received",
            code,
            {"item": item["code"], "window": window, "missing": list(case.materials_missing)},
        )
        if complete_now:
            case = _complete(code, staff)
    return case


def _complete(code: str, staff: Staff) -> Case:
    """即办件 completed at the counter: accepted and approved at once, its 办结通知 printed."""
    try:
        return cases.act(code, "approve", staff.username, staff=staff, note="窗口当场办结")
    except cases.CaseError as exc:
        # Checked beforehand; should the rules still refuse, the whole walk-in is rolled back.
        raise CounterRefused([FieldError("complete_now", exc.code, exc.message)]) from exc


def village_choices() -> list[Village]:
    """The villages an applicant at the counter may come from, by name."""
    return list(Village.select().order_by(Village.name))
