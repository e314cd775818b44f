"""Case handling: every change of a case is a hub event that flows back to its village."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, overload

import peewee

from shared import states
from shared.catalogue import Catalogue
from shared.materials import merge_supplement
from shared.msgid import N_, listed
from shared.workdays import PAUSED, RUNNING

from . import audit, deadlines, notices
from .catalogue_store import current as current_catalogue
from .clock import now, today
from .db import database, is_postgres, one_by
from .models import Assignment, Case, CountyReferral, Extension, HubEvent, Node, Staff
from .staff import may_handle

SUPERVISORS = ("supervisor", "admin")
MAX_EXTENSION_DAYS = 30

log = logging.getLogger("daiban.hub.cases")


@dataclass
class CaseError(Exception):
    """An action the rules forbid, with a sentence for staff."""

    code: str
    message: str


def locked_case(receipt_code: str) -> tuple[Any, Case]:
    """The case with this receipt code, read again after locking its village's log (inside a transaction)."""
    case = Case.get_or_none(Case.receipt_code == receipt_code)
    if case is None:
        raise CaseError("unknown_case", N_("没有这个回执码"))
    node = lock_node(case.node_id)
    return node, Case.get_by_id(case.request_id)


@overload
def lock_node(node_id: str) -> Node: ...
@overload
def lock_node(node_id: None) -> None: ...


def lock_node(node_id: str | None) -> Node | None:
    """The node row, locked for this transaction so its hub log numbers stay gapless.

    A counter case has no node (None): its log entries are numbered per case instead,
    under a lock on the case row (append_hub_event).
    """
    if node_id is None:
        return None
    node: Node | None = one_by(Node.node_id, node_id, for_update=True)
    if node is None:
        raise Node.DoesNotExist(node_id)
    return node


def append_hub_event(node: Node | None, request_id: str, type_: str, body: dict[str, Any], actor: str) -> HubEvent:
    """Add one entry to the village's downstream log (caller holds the node lock).

    Without a node (a counter case) the entry goes to the case's own log: it travels to no
    village, and numbers its papers per case.
    """
    body = {**body, "actor_name": actor_name(actor)}
    if node is None:
        return HubEvent.create(
            node=None,
            cseq=_next_case_cseq(request_id),
            request_id=request_id,
            type=type_,
            body=body,
            actor=actor,
            at=now(),
        )
    node.out_seq += 1
    Node.update(out_seq=node.out_seq).where(Node.node_id == node.node_id).execute()
    return HubEvent.create(
        node=node, cseq=node.out_seq, request_id=request_id, type=type_, body=body, actor=actor, at=now()
    )


def _next_case_cseq(request_id: str) -> int:
    # The case row is the lock of a counter case's log (PostgreSQL; SQLite has one writer).
    query = Case.select(Case.request_id).where(Case.request_id == request_id)
    if is_postgres():
        query = query.for_update()
    query.execute()
    last = (
        HubEvent.select(peewee.fn.MAX(HubEvent.cseq))
        .where(HubEvent.node.is_null() & (HubEvent.request_id == request_id))
        .scalar()
    )
    return int(last or 0) + 1


def actor_name(actor: str) -> str:
    """How the village names who acted: a staff member's display name, else 系统 (an automatic step)."""
    person = Staff.get_or_none(Staff.username == actor)
    return person.name if person is not None else "系统"


def status_body(case: Case, catalogue: Catalogue, **extra: Any) -> dict[str, Any]:
    """What the village needs to know about a case after a change."""
    # The stored deadline as of this change (an open pause has only just begun); no calendar look-up,
    # so a batch of a thousand captures does not pay for one per case.
    view = deadlines.clock_state(case)
    item = catalogue.item(case.item_code) or {}
    missing = case.materials_missing or []
    body: dict[str, Any] = {
        "receipt_code": case.receipt_code,
        "state": case.state,
        "state_label": states.LABELS[case.state],
        "window": case.window,
        "window_name": catalogue.window_name(case.window),
        # No running deadline for a closed case or one waiting for materials before 受理.
        "deadline": case.deadline.isoformat() if view in (RUNNING, PAUSED) and case.deadline else None,
        "clock": view,
        "limit_days": int(item.get("time_limit_days", 0)),
        "missing": list(missing),
        "missing_names": catalogue.material_names(case.item_code, missing),
        "assignee": case.assignee,
        "first_contact": notices.first_contact(case),
    }
    if case.duplicate_of:
        body["duplicate_of"] = case.duplicate_of
    for key, value in extra.items():  # in place: no second dict per status sent
        if value is not None:
            body[key] = value
    return body


def announce(node: Node | None, case: Case, actor: str, catalogue: Catalogue, **extra: Any) -> HubEvent:
    """Record the case's new status in the village's downstream log (and queue the villager's SMS)."""
    from .sms import queue_status_sms

    event = append_hub_event(node, case.request_id, "case.status", status_body(case, catalogue, **extra), actor)
    queue_status_sms(case, event)
    return event


def act(
    receipt_code: str,
    action: str,
    actor: str,
    *,
    missing: list[str] | None = None,
    reason: str | None = None,
    legal_basis: str | None = None,
    note: str | None = None,
    staff: Staff | None = None,
    override: str | None = None,
) -> Case:
    """Apply a staff action (accept, ask_materials, refuse, approve, deny) to a case, all or nothing.

    With `staff`, the person must cover the case's window. The returned case carries
    the downstream log entry it produced as `case.event` (the notice prints from it).
    """
    try:
        return _act(
            receipt_code,
            action,
            actor,
            missing=missing,
            reason=reason,
            legal_basis=legal_basis,
            note=note,
            staff=staff,
            override=override,
        )
    except CaseError as exc:
        log.warning("refused %s on %s by %s: %s", action, receipt_code, actor, exc.code)
        # The refused change left nothing behind; the attempt itself is kept on the audit chain.
        audit.record(actor, "case.refused_attempt", receipt_code, {"action": action, "code": exc.code})
        raise


def check_staff(staff: Staff | None, case: Case, catalogue: Catalogue) -> None:
    """Refuse an action by someone who neither covers the case's window nor was handed it (AB角)."""
    if staff is None:
        return
    if not staff.active:
        raise CaseError("inactive_staff", N_("该账号已停用"))
    if not may_handle(staff, case):
        raise CaseError(
            "not_your_window",
            N_("您不负责%(window)s窗口，不能办理此件，请联系该窗口工作人员", window=catalogue.window_name(case.window)),
        )


def _act(
    receipt_code: str,
    action: str,
    actor: str,
    *,
    missing: list[str] | None,
    reason: str | None,
    legal_basis: str | None,
    note: str | None,
    staff: Staff | None,
    override: str | None,
) -> Case:
    if action not in states.ACTIONS:
        raise CaseError("unknown_action", N_("未知操作：%(action)s", action=action))
    if action in states.COUNTY_ANSWERS:
        raise CaseError("county_answer_form", N_("县级批复须通过“录入县级批复”录入，并填写县级文号和批复日期"))
    target = states.ACTIONS[action]
    catalogue = current_catalogue()
    reason, legal_basis, note, override = (
        (v.strip() or None) if v else None for v in (reason, legal_basis, note, override)
    )
    with database.atomic():
        node, case = locked_case(receipt_code)
        check_staff(staff, case, catalogue)
        if target == states.NEEDS_MATERIALS and (case.materials_asks or 0) >= 1 and not override:
            # 一次告知 is the reason, whatever state the case is in: say that, not a state-machine rule.
            _ask_materials(case, catalogue, missing, note, override, staff, actor)
        if target == states.ACCEPTED and case.materials_missing:
            # Said first and plainly: 受理 waits for the materials, whatever the state machine would add.
            _accept(case, catalogue)
        try:
            states.check_transition(case.state, target, case.mode, catalogue.passes_up(case.item_code))
        except states.TransitionError as exc:
            raise CaseError(exc.code, exc.message) from exc
        if target == states.APPROVED:
            from .publicity import check_publicity_done

            check_publicity_done(case, catalogue)
        if target == "needs_materials":
            _ask_materials(case, catalogue, missing, note, override, staff, actor)
            missing = list(case.materials_missing)
        if target in ("refused", "denied"):
            if not (reason and reason.strip()) or not (legal_basis and legal_basis.strip()):
                raise CaseError("reason_required", N_("不予受理或不予批准须写明理由和法律依据"))
        if target == "accepted" or (target == "approved" and case.state == states.RECEIVED):
            _accept(case, catalogue)
        if target in states.TERMINAL:
            case.closed_at = now()
            case.paused_since = None
        if target == states.PASSED_UP:
            # The township's part ends today; the clock rule stops its time limit here (shared.workdays).
            CountyReferral.delete().where(CountyReferral.request_id == case.request_id).execute()
            CountyReferral.create(request_id=case.request_id, passed_up_on=today(), passed_up_by=actor)
        case.state = target
        case.updated_at = now()
        case.save()
        asked = target == "needs_materials"
        paper = (
            notices.facts(case, action, actor, catalogue, reason=reason, legal_basis=legal_basis, note=note)
            if action in notices.PAPERS
            else None
        )
        case.event = announce(
            node,
            case,
            actor,
            catalogue,
            action=action,
            reason=reason,
            legal_basis=legal_basis,
            note=note,
            override_reason=override if asked else None,
            ask_number=case.materials_asks if asked else None,
            paper=paper,
        )
        audit.record(
            actor,
            f"case.{action}",
            case.receipt_code,
            {
                "state": case.state,
                "missing": list(missing or []),
                "reason": reason,
                "legal_basis": legal_basis,
            },
        )
        if override and target == "needs_materials":
            # Counted on the dashboard: every second 补正 is an exception a supervisor answers for.
            audit.record(
                actor,
                "case.materials_override",
                case.receipt_code,
                {"reason": override, "ask_number": case.materials_asks},
            )
    return case


COUNTY_DOC_MAX = 64
COUNTY_REASON_MAX = 2000


def record_county_answer(
    receipt_code: str,
    action: str,
    actor: str,
    *,
    doc_no: str,
    doc_date: str,
    reason: str | None = None,
    note: str | None = None,
    staff: Staff | None = None,
) -> Case:
    """The county's answer to a passed-up case (县级批准 / 县级不予批准), recorded from its document.

    Needs the county's document number and date, and the reason when refused. A case never
    passed up, or already answered, is refused with nothing changed; the attempt is audited.
    """
    try:
        return _record_county_answer(
            receipt_code, action, actor, doc_no=doc_no, doc_date=doc_date, reason=reason, note=note, staff=staff
        )
    except CaseError as exc:
        log.warning("refused %s on %s by %s: %s", action, receipt_code, actor, exc.code)
        audit.record(actor, "case.refused_attempt", receipt_code[:16], {"action": action[:20], "code": exc.code})
        raise


def _county_date(text: str, passed_up_on: Any) -> Any:
    from datetime import date

    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise CaseError("bad_county_date", N_("县级批复日期格式不对，请按 2026-03-01 的格式填写")) from None
    if day > today():
        raise CaseError("bad_county_date", N_("县级批复日期不能晚于今天"))
    if day < passed_up_on:
        raise CaseError(
            "bad_county_date", N_("县级批复日期不能早于报县级的日期（%(day)s）", day=passed_up_on.isoformat())
        )
    return day


def _record_county_answer(
    receipt_code: str,
    action: str,
    actor: str,
    *,
    doc_no: str,
    doc_date: str,
    reason: str | None,
    note: str | None,
    staff: Staff | None,
) -> Case:
    if action not in states.COUNTY_ANSWERS:
        raise CaseError("unknown_action", N_("县级批复只能是“县级批准”或“县级不予批准”"))
    target = states.COUNTY_ANSWERS[action]
    doc_no, reason, note = ((v or "").strip() for v in (doc_no, reason, note))
    if not doc_no or len(doc_no) > COUNTY_DOC_MAX:
        raise CaseError("doc_no_required", N_("请填写县级批复文号（不超过 %(max)d 个字）", max=COUNTY_DOC_MAX))
    if target == states.COUNTY_DENIED and not reason:
        raise CaseError("reason_required", N_("县级不予批准须写明县级给出的理由"))
    if len(reason) > COUNTY_REASON_MAX or len(note) > COUNTY_REASON_MAX:
        raise CaseError("too_long", N_("理由和备注各不超过 %(max)d 个字", max=COUNTY_REASON_MAX))
    catalogue = current_catalogue()
    with database.atomic():
        node, case = locked_case(receipt_code)
        check_staff(staff, case, catalogue)
        referral = CountyReferral.get_or_none(CountyReferral.request_id == case.request_id)
        if referral is None:
            raise CaseError("not_passed_up", N_("本件没有报县级，不能录入县级批复"))
        if referral.answer is not None:
            raise CaseError(
                "already_answered",
                N_(
                    "本件的县级批复已经录入（%(answer)s，文号 %(doc_no)s），不能重复录入",
                    answer=states.label(referral.answer),
                    doc_no=referral.doc_no,
                ),
            )
        try:
            states.check_transition(case.state, target, case.mode, True)
        except states.TransitionError as exc:
            raise CaseError(exc.code, exc.message) from exc
        day = _county_date(doc_date or "", referral.passed_up_on)
        referral.answer, referral.doc_no, referral.doc_date = target, doc_no, day
        referral.reason, referral.recorded_by, referral.recorded_at = reason, actor, now()
        referral.save()
        case.state = target
        case.closed_at = now()
        case.updated_at = now()
        case.save()
        said = f"县级批复文号：{doc_no}（{day.year}年{day.month}月{day.day}日）"
        case.event = announce(
            node,
            case,
            actor,
            catalogue,
            action=action,
            reason=reason or None,
            note="；".join(x for x in (said, note) if x),
            county_doc_no=doc_no,
            county_doc_date=day.isoformat(),
            # A county hub's answer travels on to the township, which records it by this same rule.
            county_note=note or None,
        )
        audit.record(
            actor,
            f"case.{action}",
            case.receipt_code,
            {"state": target, "doc_no": doc_no, "doc_date": day.isoformat(), "reason": reason},
        )
    return case


def _ask_materials(
    case: Case,
    catalogue: Catalogue,
    missing: list[str] | None,
    note: str | None,
    override: str | None,
    staff: Staff | None,
    actor: str,
) -> None:
    """一次告知: the one 补正 notice of a case; a second needs a supervisor's recorded reason."""
    known = {m["code"] for m in catalogue.materials(case.item_code)}
    missing = list(dict.fromkeys(m for m in (missing or []) if m))
    unknown = [m for m in missing if m not in known]
    if unknown:
        raise CaseError("unknown_material", N_("本事项没有这些材料：%(codes)s", codes=listed(unknown)))
    if not missing and not note:
        raise CaseError("missing_required", N_("补正告知须列明所缺材料（勾选或填写）"))
    if (case.materials_asks or 0) >= 1:
        if not override:
            raise CaseError(
                "second_request",
                N_(
                    "本件已一次性告知过补正材料，按一次告知制不能再次要求补正；"
                    "确需再次补正的，须由效能监督人员填写理由批准"
                ),
            )
        if staff is None or staff.role not in SUPERVISORS:
            raise CaseError("override_not_allowed", N_("再次要求补正须由效能监督人员批准，您无此权限"))
    elif override:
        override = None
    case.materials_missing = missing
    case.materials_asks = (case.materials_asks or 0) + 1
    case.materials_asked_on = case.materials_asked_on or today()
    if case.accepted_on is None:
        # Before 受理 the time limit has not begun: it runs from the day the materials are complete.
        deadlines.stop(case)
    else:
        deadlines.pause(case)


def _accept(case: Case, catalogue: Catalogue) -> None:
    """受理: only with every material in; an immediate item is due the working day it is accepted."""
    if case.materials_missing:
        names = listed(catalogue.material_names(case.item_code, case.materials_missing))
        raise CaseError(
            "materials_missing", N_("材料尚未齐全（缺：%(names)s），不能受理；请等补正材料送达后再受理", names=names)
        )
    case.accepted_on = today()
    item = catalogue.item(case.item_code) or {}
    if case.mode == "immediate":
        deadlines.start(case, 0)
    elif case.deadline is None:
        deadlines.start(case, int(item.get("time_limit_days", 0)))


def reassign(receipt_code: str, username: str, actor: str, reason: str = "") -> Case:
    """Hand an open case to another person covering its window; recorded and told to the village."""
    catalogue = current_catalogue()
    with database.atomic():
        node, case = locked_case(receipt_code)
        if states.is_terminal(case.state):
            raise CaseError("terminal_state", N_("该申请已办理终结，不能再变更承办人"))
        person = Staff.get_or_none((Staff.username == username) & (Staff.active == True))
        if person is None:
            raise CaseError("unknown_staff", N_("没有这个在岗工作人员"))
        if case.window not in (person.windows or []):
            raise CaseError(
                "not_your_window",
                N_(
                    "%(name)s不负责%(window)s窗口，不能承办此件",
                    name=person.name,
                    window=catalogue.window_name(case.window),
                ),
            )
        if case.assignee == username:
            raise CaseError("same_assignee", N_("此件已由%(name)s承办", name=person.name))
        previous = case.assignee
        case.assignee = username
        case.updated_at = now()
        case.save()
        Assignment.create(
            username=username,
            window=case.window,
            request_id=case.request_id,
            previous=previous,
            by=actor,
            reason=reason.strip(),
            at=now(),
        )
        case.event = announce(
            node, case, actor, catalogue, action="reassigned", note=reason.strip() or None, previous_assignee=previous
        )
        audit.record(actor, "case.reassign", case.receipt_code, {"from": previous, "to": username, "reason": reason})
    return case


def open_clock(case: Case, catalogue: Catalogue, cal: Any = None) -> None:
    """A new case: complete materials start the clock on receipt; missing ones make it 待补正, unclocked.

    The village's one-time notice printed at capture is the case's 补正 notice (一次告知), so
    the hub's own request for materials would be a second one.
    """
    said = case.materials_missing or []
    found = catalogue.missing_materials(case.item_code, case.materials_brought or [])
    # Each named once, in order; most captures bring everything (both empty: no list to merge).
    missing = list(dict.fromkeys([*said, *found])) if said or found else []
    case.materials_missing = missing
    if missing:
        case.state = states.NEEDS_MATERIALS
        case.materials_asks = 1
        case.materials_asked_on = case.received_on
        deadlines.stop(case)
        return
    item = catalogue.item(case.item_code) or {}
    deadlines.start(case, int(item.get("time_limit_days", 0)), case.received_on, cal)


def supplement_arrived(
    node: Node | None, case: Case, materials: list[str], catalogue: Catalogue, clerk: str = "system"
) -> None:
    """A villager's 补正 reached the hub (caller holds the lock).

    Only the last missing material ends the wait: a partial supplement keeps the case in
    待补正 with the clock where it was, and the village is told the true remainder.
    """
    if states.is_terminal(case.state):
        audit.record(
            clerk or "system",
            "case.refused_attempt",
            case.receipt_code,
            {"action": "supplement", "code": "case_closed"},
        )
        raise CaseError(
            "case_closed", N_("该申请已%(state)s，办理已终结，不能再补正材料", state=states.label(case.state))
        )
    case.materials_brought, case.materials_missing = merge_supplement(
        case.materials_brought or [], case.materials_missing or [], materials
    )
    complete = not case.materials_missing
    if case.state == states.NEEDS_MATERIALS and complete:
        if case.accepted_on is not None:
            deadlines.resume(case)
            case.state = states.ACCEPTED
        else:
            # 受理 happens when the materials are complete: the time limit runs from today.
            item = catalogue.item(case.item_code) or {}
            deadlines.start(case, 0 if case.mode == "immediate" else int(item.get("time_limit_days", 0)))
            case.state = states.RECEIVED
    case.updated_at = now()
    case.save()
    announce(node, case, "system", catalogue, action="supplemented", complete=complete)


def request_extension(receipt_code: str, days: int, reason: str, actor: str, staff: Staff | None = None) -> Extension:
    """Staff ask to extend a running case's time limit (延期); nothing moves until a supervisor approves."""
    reason = (reason or "").strip()
    try:
        with database.atomic():
            case = Case.get_or_none(Case.receipt_code == receipt_code)
            if case is None:
                raise CaseError("unknown_case", N_("没有这个回执码"))
            check_staff(staff, case, current_catalogue())
            if states.is_terminal(case.state):
                raise CaseError("terminal_state", N_("该申请已办理终结，不能延期"))
            if case.deadline is None:
                raise CaseError("no_clock", N_("本件尚未受理（材料未齐），办理时限还没有开始，无需延期"))
            if not 1 <= days <= MAX_EXTENSION_DAYS:
                raise CaseError("bad_days", N_("延长的工作日数应在 1 到 %(max)d 之间", max=MAX_EXTENSION_DAYS))
            if not reason:
                raise CaseError("reason_required", N_("申请延期须写明理由"))
            if (
                Extension.select()
                .where((Extension.request_id == case.request_id) & (Extension.status == "pending"))
                .exists()
            ):
                raise CaseError("pending_extension", N_("本件已有待批准的延期申请"))
            ext = Extension.create(
                request_id=case.request_id, days=days, reason=reason[:500], requested_by=actor, requested_at=now()
            )
            audit.record(actor, "case.extension_requested", case.receipt_code, {"days": days, "reason": reason})
    except CaseError as exc:
        audit.record(actor, "case.refused_attempt", receipt_code, {"action": "extension_request", "code": exc.code})
        raise
    return ext


def decide_extension(ext_id: int, approve: bool, actor: str, staff: Staff | None, note: str = "") -> Case:
    """A supervisor approves (new due date recorded, village told) or rejects an extension request."""
    note = (note or "").strip()
    target = str(ext_id)
    try:
        with database.atomic():
            ext = Extension.get_or_none(Extension.id == ext_id)
            if ext is None:
                raise CaseError("unknown_extension", N_("没有这项延期申请"))
            case = Case.get_by_id(ext.request_id)
            target = case.receipt_code
            if staff is None or staff.role not in SUPERVISORS:
                raise CaseError("not_supervisor", N_("延期须经效能监督人员批准，您无此权限"))
            node = lock_node(case.node_id)
            case = Case.get_by_id(case.request_id)
            ext = Extension.get_by_id(ext_id)
            if ext.status != "pending":
                raise CaseError("already_decided", N_("这项延期申请已经处理过"))
            if states.is_terminal(case.state) or case.deadline is None:
                raise CaseError("terminal_state", N_("该申请已办理终结或尚未计时，不能延期"))
            ext.decided_by, ext.decided_at, ext.decision_note = actor, now(), note[:500]
            if not approve:
                ext.status = "rejected"
                ext.save()
                audit.record(actor, "case.extension_rejected", case.receipt_code, {"id": ext_id, "note": note})
                return case
            cal = deadlines.calendar()
            ext.old_deadline = case.deadline
            case.deadline = cal.add_workdays(case.deadline, ext.days)
            ext.new_deadline = case.deadline
            ext.status = "approved"
            ext.save()
            case.updated_at = now()
            case.save()
            catalogue = current_catalogue()
            extra = {"reason": ext.reason, "extension_days": ext.days, "old_deadline": ext.old_deadline.isoformat()}
            case.event = announce(
                node,
                case,
                actor,
                catalogue,
                action="extended",
                note=note or None,
                paper=notices.facts(case, "extended", actor, catalogue, **extra),
                **extra,
            )
            audit.record(
                actor,
                "case.extension_approved",
                case.receipt_code,
                {"id": ext_id, "days": ext.days, "new_deadline": case.deadline.isoformat()},
            )
    except CaseError as exc:
        audit.record(actor, "case.refused_attempt", target, {"action": "extension_decision", "code": exc.code})
        raise
    return case


CONTACT_KINDS = {"consult": N_("咨询"), "transfer": N_("转办")}


def record_contact(
    kind: str, person: str, topic: str, answer: str, to_body: str, actor: str, receipt_code: str | None = None
) -> Any:
    """首问负责制: record a consultation or a matter sent on, with who answered it, when and what."""
    from .models import Contact

    person, topic, answer, to_body = (v.strip() for v in (person or "", topic or "", answer or "", to_body or ""))
    try:
        if kind not in CONTACT_KINDS:
            raise CaseError("bad_kind", N_("请选择咨询或转办"))
        if not person or not topic:
            raise CaseError("contact_required", N_("请填写来访人和所问事项"))
        if kind == "consult" and not answer:
            raise CaseError("answer_required", N_("咨询须记录答复内容"))
        if kind == "transfer" and not to_body:
            raise CaseError("to_body_required", N_("转办须写明转交的窗口或单位"))
        request_id = None
        if receipt_code:
            case = Case.get_or_none(Case.receipt_code == receipt_code)
            if case is None:
                raise CaseError("unknown_case", N_("没有这个回执码"))
            request_id = case.request_id
        with database.atomic():
            row = Contact.create(
                kind=kind,
                request_id=request_id,
                person=person[:64],
                topic=topic[:1000],
                answer=answer[:2000],
                to_body=to_body[:100],
                answered_by=actor,
                at=now(),
            )
            audit.record(actor, "case.contact", receipt_code or "-", {"kind": kind, "id": row.id})
    except CaseError as exc:
        audit.record(actor, "case.refused_attempt", receipt_code or "-", {"action": "contact", "code": exc.code})
        raise
    return row
