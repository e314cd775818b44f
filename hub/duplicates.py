"""两头受理: the same person applying for the same item while an earlier request of theirs is still open.

The counter refuses such a request outright (the staff member is there with the applicant); a
village's capture has already been printed as a receipt when it arrives, so the hub keeps it but
flags it (``Case.duplicate_of``) to the window and, in its status, to the clerk. The rule of what
"open" means is the state machine's (``shared.states``), the same at both ends.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared import states

from .db import database
from .models import Case

# A request refused as invalid on arrival never became a case; everything not terminal is open.
CLOSED = list(states.TERMINAL)


def open_case_for(id_number: str, item_code: str) -> Case | None:
    """The earliest open case of this ID number for this item, if any."""
    return (
        Case.select()
        .where((Case.id_number == id_number) & (Case.item_code == item_code) & Case.state.not_in(CLOSED))
        .order_by(Case.received_at, Case.receipt_code)
        .first()
    )


def open_codes(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(ID number, item) -> receipt code of the earliest open case, for many at once (a batch's captures)."""
    wanted = set(pairs)
    found: dict[tuple[str, str], str] = {}
    ids = sorted({i for i, _ in wanted})
    param = database.param
    closed = ", ".join([param] * len(CLOSED))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # Plain SQL: compiling "IN (…200 values…)" through peewee cost more than running it (one per sync batch).
        sql = (
            f'SELECT "id_number", "item_code", "receipt_code" FROM "{Case._meta.table_name}" '  # nosec B608
            f'WHERE "id_number" IN ({", ".join([param] * len(chunk))}) AND "state" NOT IN ({closed}) '
            'ORDER BY "received_at", "receipt_code"'
        )
        rows = database.execute_sql(sql, [*chunk, *CLOSED]).fetchall()
        for id_number, item_code, code in rows:
            if (id_number, item_code) in wanted:
                found.setdefault((id_number, item_code), code)
    return found
