"""The county's queue: cases the townships passed up and the county has not answered, by deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared import states
from shared.workdays import ClockView

from .. import deadlines
from ..catalogue_store import current as current_catalogue
from ..models import Case, CountyReferral, Village


@dataclass
class Waiting:
    """One passed-up case waiting for the county's answer."""

    case: Case
    township: str
    village: str
    item_name: str
    passed_up_on: date
    passed_up_by: str
    opinion: str
    clock: ClockView


def waiting(on: date | None = None) -> list[Waiting]:
    """Every unanswered passed-up case, the most urgent first (the county's clock: hub/deadlines.clock)."""
    catalogue = current_catalogue()
    cal = deadlines.calendar()
    rows = (
        Case.select(Case, CountyReferral, Village)
        .join(CountyReferral, on=(CountyReferral.request_id == Case.request_id))
        .switch(Case)
        .join(Village)
        .where(CountyReferral.answer.is_null() & (Case.state == states.PASSED_UP))
        .order_by(Case.deadline, Case.received_at)
    )
    out = []
    for case in rows:
        referral = case.countyreferral
        out.append(
            Waiting(
                case=case,
                township=case.village.name,
                village=str((case.captured or {}).get("village", "")) if isinstance(case.captured, dict) else "",
                item_name=(catalogue.item(case.item_code) or {}).get("name", case.item_code),
                passed_up_on=referral.passed_up_on,
                passed_up_by=referral.passed_up_by,
                opinion=referral.opinion or "",
                clock=deadlines.clock(case, cal, on),
            )
        )
    return out


@dataclass
class TownshipLine:
    """A township as the county's fleet page shows it, beside its node row (last sync, key, version)."""

    waiting: int
    overdue: int
    answered: int
    on_time: int

    @property
    def on_time_rate(self) -> str:
        """Answered within the county's time limit, of all answered; a dash before the first answer."""
        return f"{100 * self.on_time / self.answered:.0f}%" if self.answered else "—"


def township_lines(on: date | None = None) -> dict[str, TownshipLine]:
    """Per township (village row name at the county): cases waiting, overdue among them, answers on time."""
    lines: dict[str, TownshipLine] = {}
    for w in waiting(on):
        line = lines.setdefault(w.township, TownshipLine(0, 0, 0, 0))
        line.waiting += 1
        line.overdue += int(w.clock.overdue)
    answered = (
        Case.select(Case.deadline, CountyReferral.doc_date, Village.name)
        .join(CountyReferral, on=(CountyReferral.request_id == Case.request_id))
        .switch(Case)
        .join(Village)
        .where(CountyReferral.answer.is_null(False) & (Case.source == "township"))
        .tuples()
    )
    for deadline, doc_date, township in answered:
        line = lines.setdefault(township, TownshipLine(0, 0, 0, 0))
        line.answered += 1
        line.on_time += int(deadline is None or doc_date is None or doc_date <= deadline)
    return lines
