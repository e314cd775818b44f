"""两头受理: the same person applying for the same item while an earlier request of theirs is still open.

The counter refuses such a request outright (the staff member is there with the applicant); a
village's capture has already been printed as a receipt when it arrives, so the hub keeps it but
flags it (``Case.duplicate_of``) to the window and, in its status, to the clerk. The rule of what
"open" means is the state machine's (``shared.states``), the same at both ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from shared import states
from shared.bulk_rows import existing

from .db import database, is_postgres
from .models import Case, NodeEvent

# A request refused as invalid on arrival never became a case; everything not terminal is open.
CLOSED = list(states.TERMINAL)


def open_code_for(id_number: str, item_code: str) -> str | None:
    """Receipt code of the earliest open case of this ID number for this item, if any (the counter's check)."""
    return open_codes([(id_number, item_code)]).get((id_number, item_code))


def open_codes(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(ID number, item) -> receipt code of the earliest open case, for many at once (a batch's captures).

    The one place that says which open case is "the" open case: `_OPEN_CASES` selects them,
    `_EARLIEST_FIRST` orders them and `_earliest` keeps each pair's first; `known` builds its
    PostgreSQL statement from the same three.
    """
    wanted = set(pairs)
    found: dict[tuple[str, str], str] = {}
    ids = sorted({i for i, _ in wanted})
    param = database.param
    closed = f"NOT IN ({', '.join([param] * len(CLOSED))})"
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # Plain SQL: compiling "IN (…200 values…)" through peewee cost more than running it (one per sync batch).
        sql = _OPEN_CASES.format(tag="", ids=f"IN ({', '.join([param] * len(chunk))})", closed=closed)
        rows = database.execute_sql(f"{sql} ORDER BY {_EARLIEST_FIRST}", [*chunk, *CLOSED]).fetchall()
        _earliest(rows, wanted, found)
    return found


# The open cases of some ID numbers ({ids}: a condition on "id_number"; {closed}: the terminal
# states left out), with what orders them. {tag}: columns put before them (known's look-up tag).
_OPEN_CASES = (
    'SELECT {tag}"id_number", "item_code", "receipt_code", "received_at" '
    f'FROM "{Case._meta.table_name}" '  # nosec B608
    'WHERE "id_number" {ids} AND "state" {closed}'
)
# Of several open cases of one person for one item, the one received first; the receipt code breaks a tie.
_EARLIEST_FIRST = '"received_at", "receipt_code"'


def _earliest(rows: Iterable[Sequence[Any]], wanted: set[tuple[str, str]], found: dict[tuple[str, str], str]) -> None:
    """Each wanted pair's first row of `_OPEN_CASES`, read in `_EARLIEST_FIRST` order, into found."""
    # By index, one pair made per row: unpacking the rest (`*_`) made a list per row, twice the time
    # (a returning batch reads ~2,650 open cases).
    for row in rows:
        pair = (row[0], row[1])
        if pair in wanted and pair not in found:
            found[pair] = row[2]


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
    return known_sent(event_ids, request_ids, receipt_codes, people)()


def known_sent(
    event_ids: Sequence[str | None],
    request_ids: Sequence[str | None],
    receipt_codes: Sequence[str | None],
    people: Iterable[tuple[str, str]],
) -> Callable[[], Known]:
    """`known`'s statement sent now on PostgreSQL; calling the result reads it (hub.db.pipelined: with others).
    On SQLite the look-ups run now."""
    wanted = set(people)
    if not is_postgres():
        done = Known(
            set(existing(NodeEvent.event_id, list(event_ids))),
            set(existing(Case.request_id, list(request_ids))),
            set(existing(Case.receipt_code, list(receipt_codes))),
            open_codes(wanted),
        )
        return lambda: done
    asked = [sorted({i for i, _ in wanted}), _distinct(event_ids), _distinct(request_ids), _distinct(receipt_codes)]
    if not any(asked):
        return lambda: Known(set(), set(), set(), {})
    cursor = database.execute_sql(_KNOWN_SQL.format(p=database.param), [asked[0], CLOSED, *asked[1:]])  # nosec B608
    return lambda: _known_of(cursor.fetchall(), wanted)


def _known_of(rows: list[tuple[Any, ...]], wanted: set[tuple[str, str]]) -> Known:
    """The Known of _KNOWN_SQL's rows."""
    found = Known(set(), set(), set(), {})
    sets = (found.event_ids, found.request_ids, found.receipt_codes)
    _earliest((row[1:] for row in rows if row[0] == _OPEN_TAG), wanted, found.open_requests)
    for kind, value, *_ in rows:
        if kind != _OPEN_TAG:
            sets[kind].add(value)
    return found


def _distinct(values: Sequence[Any]) -> list[Any]:
    return [v for v in dict.fromkeys(values) if v is not None]


# One statement, its rows tagged by look-up: the three existence look-ups (0-2, their value in the
# "id_number" column), then open_codes' open cases (3), in open_codes' order. The open cases' select
# comes first in the text so that its column names are the union's, which its ORDER BY names.
# Names from the models' metadata; every value is bound, each look-up's values as one array, so
# the text is the same for every batch.
_OPEN_TAG = 3
_KNOWN_SQL = (
    _OPEN_CASES.format(tag=f"{_OPEN_TAG} AS k, ", ids="= ANY({p})", closed="<> ALL({p})")
    + f' UNION ALL SELECT 0, "event_id", NULL, NULL, NULL FROM "{NodeEvent._meta.table_name}" '  # nosec B608
    'WHERE "event_id" = ANY({p}) '
    f'UNION ALL SELECT 1, "request_id", NULL, NULL, NULL FROM "{Case._meta.table_name}" '
    'WHERE "request_id" = ANY({p}) '
    f'UNION ALL SELECT 2, "receipt_code", NULL, NULL, NULL FROM "{Case._meta.table_name}" '
    'WHERE "receipt_code" = ANY({p}) '
    f"ORDER BY k, {_EARLIEST_FIRST}"
)
