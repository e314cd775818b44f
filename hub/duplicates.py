"""两头受理: the same person applying for the same item while an earlier request of theirs is still open.

The counter refuses such a request outright (the staff member is there with the applicant); a
village's capture has already been printed as a receipt when it arrives, so the hub keeps it but
flags it (``Case.duplicate_of``) to the window and, in its status, to the clerk. The rule of what
"open" means is the state machine's (``shared.states``), the same at both ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from shared import states
from shared.bulk_rows import existing

from .db import database, is_postgres
from .models import Case, NodeEvent

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


class Known(NamedTuple):
    """What the hub already holds of a batch's events, read before they are applied."""

    event_ids: set[str]  # node events already ingested (a re-sent event is refused as a duplicate)
    request_ids: set[str]  # cases already held by request id
    receipt_codes: set[str]  # and by receipt code
    open_requests: dict[tuple[str, str], str]  # open_codes of the batch's (ID number, item) pairs


def known(
    event_ids: Sequence[str | None],
    request_ids: Sequence[str | None],
    receipt_codes: Sequence[str | None],
    people: Iterable[tuple[str, str]],
) -> Known:
    """The batch's four look-ups before its events are applied: on PostgreSQL one statement.

    Each look-up gets its values as one array (`= ANY`), so the statement's text is the same for
    every batch: on a kept connection psycopg prepares it once and the server plans it no more
    (docs/performance.md, "Hub ingest on PostgreSQL: one look-up per batch, references checked
    per statement"). SQLite, in process,
    asks each as before (`shared.bulk_rows.existing`, `open_codes`).
    """
    wanted = set(people)
    if not is_postgres():
        return Known(
            set(existing(NodeEvent.event_id, list(event_ids))),
            set(existing(Case.request_id, list(request_ids))),
            set(existing(Case.receipt_code, list(receipt_codes))),
            open_codes(wanted),
        )
    asked = [_distinct(event_ids), _distinct(request_ids), _distinct(receipt_codes), sorted({i for i, _ in wanted})]
    found = Known(set(), set(), set(), {})
    if not any(asked):
        return found
    rows = database.execute_sql(_KNOWN_SQL.format(p=database.param), [*asked, CLOSED]).fetchall()  # nosec B608
    sets = (found.event_ids, found.request_ids, found.receipt_codes)
    for kind, value, item_code, code, _at in rows:
        if kind < 3:
            sets[kind].add(value)
        elif (value, item_code) in wanted:
            found.open_requests.setdefault((value, item_code), code)
    return found


def _distinct(values: Sequence[Any]) -> list[Any]:
    return [v for v in dict.fromkeys(values) if v is not None]


# Tagged by look-up (0–2 existence, 3 open cases); the open cases earliest first, as open_codes reads
# them. Names from the models' metadata; every value is bound.
_KNOWN_SQL = (
    f'SELECT 0 AS k, "event_id" AS v, NULL AS i, NULL AS c, NULL::timestamp AS t FROM "{NodeEvent._meta.table_name}" '  # nosec B608
    'WHERE "event_id" = ANY({p}) '
    f'UNION ALL SELECT 1, "request_id", NULL, NULL, NULL FROM "{Case._meta.table_name}" '
    'WHERE "request_id" = ANY({p}) '
    f'UNION ALL SELECT 2, "receipt_code", NULL, NULL, NULL FROM "{Case._meta.table_name}" '
    'WHERE "receipt_code" = ANY({p}) '
    f'UNION ALL SELECT 3, "id_number", "item_code", "receipt_code", "received_at" FROM "{Case._meta.table_name}" '
    'WHERE "id_number" = ANY({p}) AND "state" <> ALL({p}) '
    "ORDER BY k, t, c"
)
