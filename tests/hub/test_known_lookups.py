"""A batch's four look-ups in one go (hub/duplicates.py `known`): the same answers as one by one.

On PostgreSQL they are one statement; on SQLite each is asked as before. Either way: which event
ids, request ids and receipt codes the hub holds, and per (ID number, item) the earliest open case.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from hub import duplicates
from hub.clock import now
from hub.db import database
from hub.models import Case, NodeEvent
from shared.bulk_rows import existing
from tests.hub.case_rows import case_row, hub_with_a_node


@pytest.fixture
def hub_db(hub_db_url: str) -> Iterator[None]:
    with hub_with_a_node(hub_db_url):
        yield


@pytest.fixture
def pg_hub(pg_url: str) -> Iterator[None]:
    with hub_with_a_node(pg_url):
        yield


def _case(code: str, id_number: str, item: str, state: str, minutes: int, at: datetime | None = None) -> None:
    Case.create(
        **case_row(code, id_number=id_number, item_code=item, state=state, at=at or now() - timedelta(minutes=minutes))
    )


def test_known_answers_as_the_separate_look_ups_do(hub_db: None) -> None:
    _case("A1", "110", "x", "received", 30)
    _case("A2", "110", "x", "received", 10)  # later: A1 is the earliest open one
    _case("A3", "110", "y", "approved", 20)  # closed: not open
    _case("A4", "220", "y", "received", 5)
    _case("A5", "330", "z", "received", 5)  # a person the batch does not ask for
    NodeEvent.create(node="n1", seq=1, event_id="e1", type="t", request_id="r-A1", body={}, result="ok")
    ids, requests, codes = ["e1", "e2", "e1", None], ["r-A1", "r-new", "r-A4"], ["A2", "NEW", "A3"]
    people = [("110", "x"), ("110", "y"), ("220", "y"), ("220", "x"), ("999", "x")]
    got = duplicates.known(ids, requests, codes, iter(people))
    assert got.event_ids == {"e1"}
    assert got.request_ids == {"r-A1", "r-A4"}
    assert got.receipt_codes == {"A2", "A3"}
    assert got.open_requests == {("110", "x"): "A1", ("220", "y"): "A4"}
    assert got.event_ids == set(existing(NodeEvent.event_id, ids))
    assert got.request_ids == set(existing(Case.request_id, requests))
    assert got.receipt_codes == set(existing(Case.receipt_code, codes))
    assert got.open_requests == duplicates.open_codes(people)


def test_known_of_nothing_asks_nothing(hub_db: None) -> None:
    got = duplicates.known([], [], [], iter([]))
    assert got == duplicates.Known(set(), set(), set(), {})


def test_of_several_open_cases_the_earliest_received_is_the_one(hub_db: None) -> None:
    """The rule open_codes keeps, whichever way it is asked: earliest received, then lowest receipt code."""
    tie = now() - timedelta(minutes=40)
    # Inserted latest first, so that the table's own order would give the wrong answer.
    _case("B9", "110", "x", "received", 5)
    _case("B8", "110", "x", "received", 0, at=tie)
    _case("B7", "110", "x", "accepted", 0, at=tie)  # same moment as B8: the receipt code decides
    _case("B1", "110", "x", "approved", 90)  # earlier still, but closed
    _case("C9", "220", "x", "received", 10)
    _case("C2", "220", "x", "received", 20)
    _case("C1", "220", "x", "received", 1)
    expected = {("110", "x"): "B7", ("220", "x"): "C2"}
    pairs = [("110", "x"), ("220", "x")]
    assert duplicates.open_codes(pairs) == expected
    assert duplicates.known([], [], [], iter(pairs)).open_requests == expected
    assert duplicates.open_code_for("110", "x") == "B7"
    assert duplicates.open_code_for("220", "x") == "C2"
    assert duplicates.open_code_for("110", "y") is None


@pytest.mark.pg
def test_on_postgresql_every_batch_asks_one_statement_of_the_same_text(pg_hub: None, monkeypatch: Any) -> None:
    """psycopg prepares a statement it sees again on a kept connection: known's text must not vary."""
    _case("A1", "110", "x", "received", 30)
    asked: list[str] = []
    execute_sql = database.obj.execute_sql

    def recording(sql: str, params: Any = None) -> Any:
        asked.append(sql)
        return execute_sql(sql, params)

    monkeypatch.setattr(database.obj, "execute_sql", recording)
    duplicates.known(["e1"], ["r1"], ["A1"], iter([("110", "x")]))
    got = duplicates.known(["e1", "e2", "e3"], ["r1", "r2"], [], iter([("110", "x"), ("220", "y"), ("330", "z")]))
    assert len(asked) == 2
    assert asked[0] == asked[1]
    assert got.receipt_codes == set()
    assert got.open_requests == {("110", "x"): "A1"}
