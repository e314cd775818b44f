"""On SQLite a request takes the connection the last finished request gave back, whatever its thread.

SQLite drops a connection's page cache when another connection wrote since its last read, and a
server hands requests to its threads in turn: one connection per thread meant a cold cache for
every batch (hub/db.py, HubSqliteDatabase). Two requests at once still never share a connection,
and a connection left inside a transaction is not handed to anyone else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    from hub import create_app
    from hub.db import HubSqliteDatabase, database

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "hub"), "DATABASE_URL": None, "SECRET_KEY": "x"})
    assert isinstance(database.obj, HubSqliteDatabase)
    app.extensions["test_gate"] = None
    app.extensions["test_connections"] = []  # the connections themselves: an id could be reused

    @app.get("/_test/connection")
    def connection() -> dict[str, int]:
        conn = database.connection()
        app.extensions["test_connections"].append(conn)
        database.execute_sql("SELECT 1")
        gate = app.extensions["test_gate"]
        if gate is not None:
            gate.arrived.release()
            gate.leave.wait(10)
        return {"id": id(conn)}

    yield app
    database.obj.close_kept()


def _connection_in_thread(app: Flask, out: list[int]) -> threading.Thread:
    def run() -> None:
        resp = app.test_client().get("/_test/connection")
        assert resp.status_code == 200, resp.data[:300]
        out.append(resp.get_json()["id"])

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_requests_in_other_threads_in_turn_take_the_connection_given_back_last(app: Flask) -> None:
    seen: list[int] = []
    for _ in range(4):
        _connection_in_thread(app, seen).join(10)
    assert len(seen) == 4
    assert len(set(seen)) == 1


def test_requests_at_once_never_share_a_connection(app: Flask) -> None:
    class Gate:
        arrived = threading.Semaphore(0)
        leave = threading.Event()

    app.extensions["test_gate"] = Gate
    seen: list[int] = []
    first = _connection_in_thread(app, seen)
    assert Gate.arrived.acquire(timeout=10)  # the first request holds its connection
    second = _connection_in_thread(app, seen)
    assert Gate.arrived.acquire(timeout=10)
    Gate.leave.set()
    first.join(10)
    second.join(10)
    assert len(seen) == 2
    assert seen[0] != seen[1]
    # Both were given back: the next two requests in turn take the one given back last.
    app.extensions["test_gate"] = None
    later: list[int] = []
    _connection_in_thread(app, later).join(10)
    _connection_in_thread(app, later).join(10)
    assert later[0] == later[1]
    assert later[0] in seen


def test_a_connection_inside_a_transaction_stays_with_its_thread(app: Flask) -> None:
    from hub.db import database

    seen: list[int] = []
    with app.test_request_context("/"):
        app.preprocess_request()
        database.execute_sql("BEGIN")
        conn = database.connection()
        app.do_teardown_request(None)
        assert not database.is_closed()  # not given back: its transaction is open
        assert database.connection() is conn
        _connection_in_thread(app, seen).join(10)
        database.execute_sql("ROLLBACK")
    assert len(seen) == 1
    assert seen[0] != id(conn)


def test_close_kept_closes_the_connections_given_back(app: Flask) -> None:
    from hub.db import database

    seen: list[int] = []
    _connection_in_thread(app, seen).join(10)
    kept = list(database.obj._idle)
    assert [id(c) for c in kept] == seen
    database.obj.close_kept()
    assert database.obj._idle == []
    with pytest.raises(Exception, match="closed"):
        kept[0].execute("SELECT 1")
