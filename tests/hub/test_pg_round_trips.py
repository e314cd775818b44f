"""Fewer round trips on PostgreSQL, the same transactions (hub/db.py).

A transaction's BEGIN is held until its first statement and sent with it; `pipelined` sends a
block's statements without waiting for each answer. Either way each statement still runs inside
the transaction the caller opened, a failure undoes all of it and is raised as peewee's exception,
and the connection is left idle for the next request.
"""

from __future__ import annotations

from collections.abc import Iterator

import peewee
import psycopg
import pytest

from hub import metrics
from hub.db import database, pipelined
from hub.models import Setting, SyncStat
from shared.bulk_rows import insert_rows
from tests.hub.case_rows import hub_with_a_node

pytestmark = pytest.mark.pg

IDLE, INTRANS = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS


@pytest.fixture
def pg_hub(pg_url: str) -> Iterator[None]:
    with hub_with_a_node(pg_url):
        yield


def _ours() -> list[tuple[str, str]]:
    """The settings these tests wrote (migrate writes its own)."""
    return [(s.key, s.value) for s in Setting.select().where(Setting.key.startswith("t.")).order_by(Setting.key)]


def _status() -> psycopg.pq.TransactionStatus:
    return database.obj._state.conn.info.transaction_status


class Undo(Exception):
    pass


def test_begin_goes_with_the_first_statement_and_the_transaction_holds(pg_hub: None) -> None:
    with pytest.raises(Undo), database.atomic():
        assert _status() == IDLE  # nothing sent yet
        Setting.create(key="t.a", value="1")
        assert _status() == INTRANS  # BEGIN went first, with it
        Setting.create(key="t.b", value="2")
        raise Undo
    assert _ours() == []  # both undone: the first statement was inside the transaction
    with database.atomic():
        Setting.create(key="t.a", value="1")
    assert _ours() == [("t.a", "1")]
    assert _status() == IDLE


def test_a_transaction_that_runs_nothing_sends_nothing(pg_hub: None) -> None:
    with database.atomic():
        pass
    assert _status() == IDLE
    with pytest.raises(Undo), database.atomic():
        raise Undo
    assert _status() == IDLE
    assert not database.in_transaction()
    Setting.create(key="t.after", value="x")
    assert Setting.get(Setting.key == "t.after").value == "x"


def test_a_failing_first_statement_raises_peewee_s_error_and_undoes_the_transaction(pg_hub: None) -> None:
    Setting.create(key="t.taken", value="1")
    with pytest.raises(peewee.IntegrityError), database.atomic():
        Setting.create(key="t.taken", value="2")
    assert _status() == IDLE
    assert Setting.get(Setting.key == "t.taken").value == "1"


def test_a_copy_as_first_statement_is_inside_the_transaction(pg_hub: None) -> None:
    with pytest.raises(Undo), database.atomic():
        # Two rows: COPY (insert_rows' way for several), on a cursor of the caller's own.
        insert_rows(database.obj.cursor(), Setting, ("key", "value"), [("t.c1", "x"), ("t.c2", "y")], mark="%s")
        assert _status() == INTRANS
        raise Undo
    assert _ours() == []


def test_pipelined_statements_read_what_the_block_wrote(pg_hub: None) -> None:
    with database.atomic(), pipelined():
        assert database.obj._state.conn.pgconn.pipeline_status  # sent without waiting for each answer
        Setting.create(key="t.p", value="1")
        Setting.update(value="2").where(Setting.key == "t.p").execute()
        assert Setting.get(Setting.key == "t.p").value == "2"
    assert database.obj._state.conn.pgconn.pipeline_status == 0
    assert Setting.get(Setting.key == "t.p").value == "2"


def test_a_pipelined_failure_is_peewee_s_error_and_leaves_nothing(pg_hub: None) -> None:
    Setting.create(key="t.taken", value="1")
    # Outside any transaction of the caller's, as metrics.record_sync uses it: its own, undone.
    with pytest.raises(peewee.IntegrityError), pipelined(), database.atomic():
        Setting.create(key="t.new", value="1")
        # Refused; nothing reads its answer, so the error comes at the end of the block.
        database.execute_sql('INSERT INTO "setting" ("key", "value") VALUES (%s, %s)', ("t.taken", "2"))
    assert _status() == IDLE
    assert not database.in_transaction()
    assert _ours() == [("t.taken", "1")]


def test_the_sync_counter_still_counts(pg_hub: None) -> None:
    metrics.record_sync(200, 0.01)
    metrics.record_sync(200, 0.01)
    (row,) = SyncStat.select()
    assert (row.status, row.count) == (200, 2)
    assert _status() == IDLE
