"""A period's cases in bulk, in the shape of the centre's reference year (DESIGN.md §2).

11,211 received = 8,803 即办件 (all completed the same day, most at the counter) + 2,408 承办件
(2,353 completed by their due date + 55 in progress), January to the end of October. Rows go
in with insert_many so a year of cases is written in about a second on SQLite and PostgreSQL;
the hub's own actions are tested elsewhere, here it is the counting that is under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterator

from hub.catalogue_store import current
from hub.clock import now
from hub.db import database
from hub.models import Case, Node, Staff, Village
from shared import states

YEAR = 2025
PERIOD = (date(YEAR, 1, 1), date(YEAR, 10, 31))
VILLAGES = ("桃源村", "杏花村", "清河村", "石桥村")
STAFF = {"wang": "王芳", "li": "李强", "zhao": "赵敏", "chen": "陈刚"}
BATCH = 500  # rows per INSERT: 500 × 28 parameters, within SQLite's and PostgreSQL's limits


@dataclass(frozen=True)
class Shape:
    """How many cases of each kind to build."""

    instant_counter: int = 8_000
    instant_village: int = 803
    undertaken_done: int = 2_353
    undertaken_open: int = 55
    refused: int = 0
    outside: int = 40  # received before or after the period: must not be counted
    # Item codes to use for each kind (empty: every item of the catalogue of that mode, in turn).
    instant_items: tuple[str, ...] = ()
    done_items: tuple[str, ...] = ()
    open_items: tuple[str, ...] = ()


REFERENCE = Shape()


def _villages() -> list[tuple[int, str]]:
    """(village id, its node id) for each village, made if missing."""
    out = []
    for n, name in enumerate(VILLAGES):
        village, _ = Village.get_or_create(name=name, defaults={"prefix": f"Z{n}", "created_at": now()})
        node, _ = Node.get_or_create(
            village=village,
            defaults={
                "node_id": f"node-figures-{n}",
                "pubkey": "x" * 43,
                "fingerprint": "f" * 16,
                "enrolled_at": now(),
                "last_hash": "0" * 64,
            },
        )
        out.append((village.id, node.node_id))
    return out


def _staff() -> None:
    for username, name in STAFF.items():
        Staff.get_or_create(
            username=username, defaults={"name": name, "password_hash": "!", "windows": [], "created_at": now()}
        )


def _items(mode: str, codes: tuple[str, ...]) -> list[dict[str, Any]]:
    items = [i for i in current().items() if i["mode"] == mode and (not codes or i["code"] in codes)]
    assert items, f"the catalogue has no {mode} item among {codes}"
    return items


def _day(n: int, start: date = PERIOD[0]) -> date:
    """The n-th case's day of receipt, spread over the ten months (a day 1–28 of each)."""
    return date(start.year, start.month + n % 10, 1 + (n // 10) % 28)


def _row(
    n: int,
    kind: str,
    item: dict[str, Any],
    village: tuple[int, str],
    received: date,
    *,
    source: str,
    state: str,
    closed: date | None,
    deadline: date | None,
    staff: str,
) -> dict[str, Any]:
    at = datetime(received.year, received.month, received.day, 2, 0)  # 10:00 Beijing time
    return {
        "request_id": f"figures-{kind}-{n:06d}",
        "receipt_code": f"F{kind[0].upper()}{n:06d}",
        "node": village[1],
        "village": village[0],
        "item_code": item["code"],
        "window": item["window"],
        "mode": item["mode"],
        "state": state,
        "assignee": staff if source == "village" or item["mode"] == "processed" else None,
        "clerk": "clerk" if source == "village" else None,
        "applicant_name": "张三",
        "id_number": "430102199001011234",
        "phone": "13800138000",
        "captured": {},
        "materials_brought": [],
        "materials_missing": [],
        "received_at": at,
        "received_on": received,
        "deadline": deadline,
        "clock_start": received,
        "accepted_on": received,
        "closed_at": datetime(closed.year, closed.month, closed.day, 3, 0) if closed else None,
        "updated_at": at,
        "source": source,
        "received_by": staff if source == "counter" else None,
    }


def _rows(shape: Shape, villages: list[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    instant, done, still_open = (
        _items("immediate", shape.instant_items),
        _items("processed", shape.done_items),
        _items("processed", shape.open_items),
    )
    staff = list(STAFF)
    n = 0

    def pick(seq: list[Any], k: int) -> Any:
        return seq[k % len(seq)]

    for i in range(shape.instant_counter + shape.instant_village):
        day = _day(i)
        source = "counter" if i < shape.instant_counter else "village"
        yield _row(
            n,
            "instant",
            pick(instant, i),
            pick(villages, i),
            day,
            source=source,
            state=states.APPROVED,
            closed=day,
            deadline=day,
            staff=pick(staff, i),
        )
        n += 1
    for i in range(shape.undertaken_done):
        day = _day(i)
        yield _row(
            n,
            "done",
            pick(done, i),
            pick(villages, i),
            day,
            source=pick(["village", "counter"], i),
            state=states.APPROVED,
            closed=day + timedelta(days=5),
            deadline=day + timedelta(days=30),
            staff=pick(staff, i),
        )
        n += 1
    for i in range(shape.undertaken_open):
        day = date(YEAR, 10, 20 + i % 10)
        yield _row(
            n,
            "open",
            pick(still_open, i),
            pick(villages, i),
            day,
            source="village",
            state=states.ACCEPTED,
            closed=None,
            deadline=day + timedelta(days=30),
            staff=pick(staff, i),
        )
        n += 1
    for i in range(shape.refused):
        day = _day(i)
        yield _row(
            n,
            "refused",
            pick(done, i),
            pick(villages, i),
            day,
            source="counter",
            state=states.REFUSED,
            closed=day,
            deadline=None,
            staff=pick(staff, i),
        )
        n += 1
    for i in range(shape.outside):
        day = date(YEAR - 1, 12, 31) if i % 2 else date(YEAR, 11, 1)
        yield _row(
            n,
            "xoutside",
            pick(instant, i),
            pick(villages, i),
            day,
            source="counter",
            state=states.APPROVED,
            closed=day,
            deadline=day,
            staff=pick(staff, i),
        )
        n += 1


def _insert(rows: list[dict[str, Any]]) -> None:
    """Multi-row INSERTs with parameters (peewee's insert_many spends seconds building SQL text, and
    executemany is a round trip per row on PostgreSQL); each value goes through its field's db_value."""
    defaults = {
        f.name: f.default() if callable(f.default) else f.default
        for f in Case._meta.sorted_fields
        if f.default is not None
    }
    rows = [{**defaults, **r} for r in rows]
    names = list(rows[0])
    fields = [Case._meta.fields[n] for n in names]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    one = "(" + ", ".join([database.param] * len(fields)) + ")"
    table = Case._meta.table_name
    cursor = database.cursor()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        sql = f'INSERT INTO "{table}" ({columns}) VALUES ' + ", ".join([one] * len(batch))
        cursor.execute(sql, [f.db_value(r[n]) for r in batch for f, n in zip(fields, names)])


def seed(shape: Shape = REFERENCE) -> int:
    """Write the shape's cases (with their villages, nodes and staff); how many rows were written."""
    with database.atomic():
        villages = _villages()
        _staff()
        rows = list(_rows(shape, villages))
        _insert(rows)
    return len(rows)
