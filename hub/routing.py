"""Which window, and who on it, handles a new request.

The rule, in one place:

- A request goes to the window its catalogue item names.
- Among the active staff who cover that window and are on duty, the one with the
  fewest open cases gets it; ties go to whoever was least recently given a case
  (never assigned counts as longest ago), then to the username in order.
- Staff who are away (离岗) are skipped. If nobody covering the window is on
  duty, the same rule picks among the backups (B角, AB角) the away staff of that
  window named, if they are on duty: the person who stands in takes the work.
- If nobody is left, the case stays unassigned; the queue shows it in red to
  supervisors, and it is handed out as soon as someone covering the window is
  created or comes on duty (`assign_unassigned`). Cases of a closed account are
  handed out the same way.

Supervisors and admins are never picked by routing; they may take a case by
reassignment.
"""

from __future__ import annotations

from typing import Any, Callable

from peewee import fn

from shared import states
from shared.catalogue import Catalogue

from .clock import now
from .db import compiled, rows_sent
from .models import Assignment, Case, Staff


def window_for(catalogue: Catalogue, item_code: str) -> str:
    """The window code the catalogue names for an item."""
    item = catalogue.item(item_code)
    if item is None:
        raise KeyError(item_code)
    return item["window"]


def candidates(window: str, active: list[Staff] | None = None) -> list[Staff]:
    """Who may be given a new case of a window: its staff on duty, or else the on-duty B角 of its staff away.

    `active`: every active staff member, when the caller already read them.
    """
    if active is None:
        active = active_staff()
    staff = [s for s in active if s.role == "staff" and window in (s.windows or [])]
    on_duty = [s for s in staff if s.on_duty]
    if on_duty:
        return on_duty
    named = {s.backup for s in staff if s.backup}
    return [s for s in active if s.username in named and s.on_duty]


def active_staff() -> list[Staff]:
    """Every active staff account."""
    return active_staff_sent()()


def active_staff_sent() -> Callable[[], list[Staff]]:
    """`active_staff`'s statement sent now; calling the result reads the rows (hub.db.pipelined: with others)."""
    # Compiled once: every synced batch with a new case reads them.
    sql = compiled(("routing.active_staff",), lambda: Staff.select().where(Staff.active == True), [True])
    return rows_sent(Staff, sql, [True])


def open_counts(usernames: list[str]) -> dict[str, int]:
    """Open (not terminal) cases per assignee."""
    if not usernames:
        return {}
    rows = (
        Case.select(Case.assignee, fn.COUNT(Case.request_id).alias("n"))
        .where(Case.assignee.in_(usernames) & Case.state.not_in(list(states.TERMINAL)))
        .group_by(Case.assignee)
    )
    return {r.assignee: r.n for r in rows}


def last_assigned(usernames: list[str]) -> dict[str, object]:
    """When each person was last given a case."""
    if not usernames:
        return {}
    rows = (
        Assignment.select(Assignment.username, fn.MAX(Assignment.at).alias("last"))
        .where(Assignment.username.in_(usernames))
        .group_by(Assignment.username)
    )
    return {r.username: r.last for r in rows}


def _rank(counts: dict[str, int], last: dict[str, object]) -> Callable[[Staff], tuple[int, bool, str, str]]:
    """The rule's order: fewest open cases, then least recently given one, then username."""
    # Never-assigned sorts first; str() keeps naive datetimes and their text form comparable.
    return lambda p: (
        counts.get(p.username, 0),
        last.get(p.username) is not None,
        str(last.get(p.username) or ""),
        p.username,
    )


def choose(window: str) -> Staff | None:
    """The person the rule picks for a window, or None when nobody covers it."""
    people = candidates(window)
    if not people:
        return None
    names = [p.username for p in people]
    return min(people, key=_rank(open_counts(names), last_assigned(names)))


class Router:
    """The rule for a run of new cases (one sync batch): the staff, their open-case counts and last
    assignments are read once, then kept up to date in memory as cases are handed out, so routing
    costs no query per case.

    Counts are kept per person, not per window: someone covering two windows is counted with the
    cases of both that this run gave out. With `sink`, each assignment row is appended to it for
    the caller to insert with the run's other rows, instead of one INSERT per case.
    """

    def __init__(self, sink: list[dict[str, Any]] | None = None, staff: list[Staff] | None = None) -> None:
        """`staff`: the active staff when the caller read them already, else read at the first case."""
        self._active: list[Staff] | None = staff
        self._windows: dict[str, list[Staff]] = {}
        self._counts: dict[str, int] = {}
        self._last: dict[str, object] = {}
        self._known: set[str] = set()
        self._sink = sink

    def _people(self, window: str) -> list[Staff]:
        if window not in self._windows:
            if self._active is None:
                self._active = active_staff()
            people = candidates(window, self._active)
            new = [p.username for p in people if p.username not in self._known]
            self._counts.update(open_counts(new))
            self._last.update(last_assigned(new))
            self._known.update(new)
            self._windows[window] = people
        return self._windows[window]

    def assignee_for(self, window: str, request_id: str | None = None, by: str = "system") -> str | None:
        """The username to own a new case on a window (recorded for fair tie-breaks), or None."""
        people = self._people(window)
        if not people:
            return None
        person = min(people, key=_rank(self._counts, self._last))
        at = now()
        row = dict(username=person.username, window=window, request_id=request_id, by=by, reason="自动分派", at=at)
        if self._sink is None:
            Assignment.create(**row)
        else:
            self._sink.append(row)
        self._counts[person.username] = self._counts.get(person.username, 0) + 1
        self._last[person.username] = at
        return person.username


def assignee_for(window: str, request_id: str | None = None, by: str = "system") -> str | None:
    """The username to own a new case on a window (recorded for fair tie-breaks), or None."""
    return Router().assignee_for(window, request_id, by)


def assign_unassigned(window: str | None = None) -> int:
    """Give every open case without a working owner (none, or a closed account) to the person the rule picks."""
    from . import cases

    gone = [s.username for s in Staff.select(Staff.username).where(Staff.active == False)]
    orphaned = Case.assignee.is_null() | Case.assignee.in_(gone) if gone else Case.assignee.is_null()
    query = Case.select().where(orphaned & Case.state.not_in(list(states.TERMINAL)))
    if window:
        query = query.where(Case.window == window)
    done = 0
    for case in query.order_by(Case.deadline, Case.received_at):
        person = choose(case.window)
        if person is None:
            continue
        cases.reassign(case.receipt_code, person.username, "system", "自动分派（此前无人负责）")
        done += 1
    return done
