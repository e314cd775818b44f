"""On PostgreSQL each server thread keeps its connection between requests, and drops it safely.

The kept connection is checked before each request (one query that also says whether the server is
still the primary); one the server ended, one whose server is now a standby, one idle too long, and
one of a thread that has ended are closed and a new one is opened (hub/db.py, `checkout`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask

pytestmark = pytest.mark.pg


def _app(url: str, tmp_path: Any, **config: Any) -> Flask:
    from hub import create_app
    from hub.db import database

    app = create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path / "hub"), "DATABASE_URL": url, "SECRET_KEY": "x"} | config
    )

    @app.get("/_test/backend")
    def backend() -> dict[str, int]:
        return {"pid": database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]}

    return app


@pytest.fixture
def app(pg_url: str, tmp_path: Any) -> Iterator[Flask]:
    from hub.db import database

    app = _app(pg_url, tmp_path)
    yield app
    database.obj.close_kept()


def _pid(app: Flask) -> int:
    resp = app.test_client().get("/_test/backend")
    assert resp.status_code == 200, resp.data[:300]
    pid: int = resp.get_json()["pid"]
    return pid


def test_a_thread_keeps_its_connection_across_requests(app: Flask) -> None:
    from hub.db import database

    first = _pid(app)
    assert not database.is_closed()  # kept after the request
    assert _pid(app) == first
    assert _pid(app) == first


def test_a_connection_the_server_ended_is_replaced(app: Flask, pg_url: str) -> None:
    first = _pid(app)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone() == (True,)
    second = _pid(app)  # the check before the request finds it dead: a new connection, no error
    assert second != first
    assert _pid(app) == second


def test_a_connection_to_a_standby_is_replaced(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub import db

    first = _pid(app)
    monkeypatch.setattr(db, "server_state", lambda conn: (True, None))  # the server went into recovery
    assert _pid(app) != first


def test_a_connection_idle_too_long_is_replaced(app: Flask) -> None:
    from hub.db import database

    first = _pid(app)
    database.obj.max_idle_s = 0.0
    assert _pid(app) != first


def test_the_connection_of_an_ended_thread_is_closed(app: Flask) -> None:
    from hub.db import database

    conns: list[Any] = []

    def serve() -> None:
        _pid(app)
        conns.append(database.connection())

    worker = threading.Thread(target=serve)
    worker.start()
    worker.join()
    assert conns
    assert not conns[0].closed  # kept while its thread lived
    _pid(app)  # any later request sweeps it
    assert conns[0].closed


def test_not_kept_when_turned_off(pg_url: str, tmp_path: Any) -> None:
    from hub.db import database

    app = _app(pg_url, tmp_path, PG_KEEP_CONNECTIONS="0")
    first = _pid(app)
    assert database.is_closed()  # closed at the end of the request, as before
    assert _pid(app) != first
