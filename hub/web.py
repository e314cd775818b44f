"""Wiring the hub's database, key and secret into the app for each request."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from . import settings
from .db import bind, database, is_postgres, open_database
from .keys import ensure_box_key, ensure_key
from .models import Setting


def database_url(data_dir: str, url: str | None) -> str:
    """The configured URL, or the SQLite file in the data directory."""
    return url or f"sqlite:///{Path(data_dir) / 'hub.sqlite3'}"


def init_app(app: Flask) -> None:
    """Open the database and key once per process, connect per request."""
    data_dir = app.config["DATA_DIR"]
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    bind(open_database(database_url(data_dir, app.config.get("DATABASE_URL"))))
    app.extensions["daiban_hub_key"] = ensure_key(data_dir)
    app.extensions["daiban_hub_box_key"] = ensure_box_key(data_dir)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = session_secret()

    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        # SQLite: each server thread keeps its connection. Opening one per request (file, pragmas)
        # and closing it (the last close checkpoints the WAL) both run under peewee's lock, and were
        # half the cost of a status lookup. PostgreSQL still connects per request, so a promoted
        # standby is found on the next request (hub/db.py).
        if not database.is_closed() and (is_postgres() or database.in_transaction()):
            database.close()


def session_secret() -> str:
    """The session signing key, made once and kept in the database, never in the repo."""
    with database.connection_context():
        if not database.table_exists(Setting._meta.table_name):
            return secrets.token_hex(32)
        # gunicorn boots its workers at once: the first insert wins, every worker reads the winner's key
        # (a plain create made the losing worker fail to boot, taking the whole server down).
        return settings.put_once("session_secret", secrets.token_hex(32))
