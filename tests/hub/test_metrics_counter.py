"""The sync counter commits without flushing SQLite's WAL, and leaves the connection's durability as it was."""

from __future__ import annotations

from hub.db import database, is_postgres
from hub.metrics import record_sync
from hub.models import Batch, SyncStat


def _count(status: int) -> int:
    return sum(s.count for s in SyncStat.select().where(SyncStat.status == status))


def test_each_sync_is_counted_and_later_commits_stay_durable(hub_app) -> None:
    said: list[str] = []
    if not is_postgres():
        database.connection().set_trace_callback(said.append)
    record_sync(200, 0.003)
    if not is_postgres():
        database.connection().set_trace_callback(None)
        # The counter's own transaction, and only it, commits at NORMAL (no flush of the WAL).
        normal = said.index("PRAGMA synchronous = NORMAL")
        begin = next(i for i, sql in enumerate(said) if sql.startswith("BEGIN"))
        commit = said.index("COMMIT")
        assert normal < begin < commit < said.index("PRAGMA synchronous = 2")
    record_sync(200, 0.2)
    record_sync(409, 0.003)
    assert _count(200) == 2
    assert _count(409) == 1
    if not is_postgres():
        # FULL (2), as hub/db.SQLITE_PRAGMAS sets it: the ingest's own commits still flush.
        assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2


def test_counted_inside_an_open_transaction_the_outer_commit_decides(hub_app) -> None:
    with database.atomic() as txn:
        record_sync(200, 0.003)
        assert _count(200) == 1
        txn.rollback()  # the count was part of the outer transaction: rolled back with it
    assert _count(200) == 0
    assert Batch.select().count() == 0
    if not is_postgres():
        assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
