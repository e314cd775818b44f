"""AB角: who stands in for whom, and what happens to a person's open cases when they are away.

Each member of staff may name a backup (B角). Marking a person away (离岗) hands every open case
they own to that backup, or to the person a supervisor picks at that moment, with one recorded
reassignment per case (the village is told who now handles it) and one audit entry for the whole
hand-over. The backup may handle those cases even on a window they do not otherwise cover
(hub/staff.may_handle). Coming back on duty (在岗) picks up any case nobody owns on one's windows.

The console's 在岗情况 page and `daiban hub duty` both go through `set_duty`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from shared import states
from shared.msgid import N_

from . import audit, routing
from .cases import CaseError, lock_node, announce
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database
from .models import Assignment, Case, Staff

SUPERVISORS = ("supervisor", "admin")


@dataclass(frozen=True)
class DutyChange:
    """What marking someone away or back did: cases handed to the backup, left unowned, or picked up."""

    person: Staff
    on_duty: bool
    backup: Staff | None = None
    handed: int = 0
    kept: int = 0
    taken: int = 0

    def sentence(self) -> str:
        """For the flash message and the command line."""
        if self.on_duty:
            return _("%(name)s：%(duty)s", name=self.person.name, duty=_("在岗")) + (
                _("，接手无人负责的 %(taken)s 件", taken=self.taken) if self.taken else ""
            )
        text = _("%(name)s：%(duty)s", name=self.person.name, duty=_("离岗"))
        if self.backup is not None:
            text += _("，%(handed)s 件在办申请已交B角%(backup)s承办", handed=self.handed, backup=self.backup.name)
        elif self.kept:
            text += _("；未指定B角，%(kept)s 件在办申请仍由其承办（请指定B角或由效能监督改派）", kept=self.kept)
        return text


def _person(username: str) -> Staff:
    person = Staff.get_or_none(Staff.username == username)
    if person is None:
        raise CaseError("unknown_staff", N_("没有这个工作人员"))
    return person


def _check_backup(person: Staff, username: str) -> Staff:
    backup = Staff.get_or_none((Staff.username == username) & (Staff.active == True))
    if backup is None:
        raise CaseError("unknown_staff", N_("没有这个在用的工作人员，不能作为B角"))
    if backup.id == person.id:
        raise CaseError("self_backup", N_("不能指定自己为B角"))
    return backup


def _may_change(actor: Staff, person: Staff) -> None:
    if actor.id != person.id and actor.role not in SUPERVISORS:
        raise CaseError("not_supervisor", N_("只能修改自己的在岗状态和B角；他人的须由效能监督人员修改"))


def set_backup(username: str, backup_username: str, actor: Staff) -> Staff:
    """Name (or with an empty name, clear) a person's backup; recorded on the audit chain."""
    try:
        person = _person(username)
        _may_change(actor, person)
        backup = _check_backup(person, backup_username) if backup_username else None
        with database.atomic():
            person.backup = backup.username if backup else None
            person.save()
            audit.record(
                actor.username, "staff.backup_set", person.username, {"backup": backup.username if backup else None}
            )
    except CaseError as exc:
        audit.record(actor.username, "staff.refused_attempt", username, {"action": "backup", "code": exc.code})
        raise
    return person


def set_duty(
    username: str, on_duty: bool, actor: Staff | None, backup_username: str = "", actor_name: str = ""
) -> DutyChange:
    """Mark a person on duty or away; away hands their open cases to the backup (named, or picked now).

    `actor` None is the command line (an administrator at the server). A supervisor's pick
    overrides the person's own B角 for this hand-over only.
    """
    who = actor.username if actor is not None else (actor_name or "cli")
    try:
        person = _person(username)
        if actor is not None:
            _may_change(actor, person)
            if backup_username and actor.role not in SUPERVISORS and backup_username != (person.backup or ""):
                raise CaseError("not_supervisor", N_("临时指定接手人须由效能监督人员操作；请先把其设为您的B角"))
        if on_duty:
            change = _back(person, who)
        else:
            chosen = backup_username or person.backup or ""
            backup = _check_backup(person, chosen) if chosen else None
            if backup is not None and not backup.on_duty:
                raise CaseError(
                    "backup_away", N_("B角%(name)s也处于离岗状态，不能接手；请另选接手人", name=backup.name)
                )
            change = _away(person, backup, who)
    except CaseError as exc:
        audit.record(who, "staff.refused_attempt", username, {"action": "duty", "code": exc.code})
        raise
    return change


def _back(person: Staff, who: str) -> DutyChange:
    with database.atomic():
        person.on_duty = True
        person.save()
        taken = sum(routing.assign_unassigned(w) for w in person.windows or [])
        audit.record(who, "staff.duty", person.username, {"on_duty": True, "took_over": taken})
    return DutyChange(person, True, taken=taken)


def _away(person: Staff, backup: Staff | None, who: str) -> DutyChange:
    catalogue = current_catalogue()
    with database.atomic():
        person.on_duty = False
        person.save()
        open_cases = list(
            Case.select()
            .where((Case.assignee == person.username) & Case.state.not_in(list(states.TERMINAL)))
            .order_by(Case.received_at)
        )
        handed = 0
        if backup is not None:
            reason = f"AB角：{person.name}离岗，由B角{backup.name}承办"
            for case in open_cases:
                node = lock_node(case.node_id)
                case = Case.get_by_id(case.request_id)
                case.assignee = backup.username
                case.updated_at = now()
                case.save()
                Assignment.create(
                    username=backup.username,
                    window=case.window,
                    request_id=case.request_id,
                    previous=person.username,
                    by=who,
                    reason=reason,
                    at=now(),
                )
                announce(
                    node, case, who, catalogue, action="reassigned", note=reason, previous_assignee=person.username
                )
                handed += 1
        kept = len(open_cases) - handed
        audit.record(
            who,
            "staff.duty",
            person.username,
            {"on_duty": False, "backup": backup.username if backup else None, "handed": handed, "kept": kept},
        )
    return DutyChange(person, False, backup=backup, handed=handed, kept=kept)
