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
