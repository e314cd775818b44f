"""Wiring the hub's database, key and secret into the app for each request."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from shared import request_values

from . import settings
from .db import KEEPS_CONNECTIONS, HubPostgresDatabase, bind, database, is_postgres, open_database
from .keys import ensure_box_key, ensure_key
from .models import Setting


def database_url(data_dir: str, url: str | None) -> str:
    """The configured URL, or the SQLite file in the data directory."""
    return url or f"sqlite:///{Path(data_dir) / 'hub.sqlite3'}"


def init_app(app: Flask) -> None:
    """Open the database and key once per process; each server thread keeps its connection."""
    data_dir = app.config["DATA_DIR"]
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    bind(open_database(database_url(data_dir, app.config.get("DATABASE_URL"))))
    app.extensions["daiban_hub_key"] = ensure_key(data_dir)
    app.extensions["daiban_hub_box_key"] = ensure_box_key(data_dir)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = session_secret()

    db = database.obj
    if isinstance(db, HubPostgresDatabase):
        db.keep_connections = _flag(app.config.get("PG_KEEP_CONNECTIONS", True))

    request_values.init_app(app)

    @app.before_request
    def _connect() -> None:
        if isinstance(database.obj, KEEPS_CONNECTIONS):
            database.obj.checkout()
        else:
            database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        # Connections are kept between requests. SQLite: opening one per request (file, pragmas)
        # and closing it (the last close checkpoints the WAL) both run under peewee's lock, and were
        # half the cost of a status lookup; the next request takes the one given back last, whose
        # page cache is warm (hub/db.py, HubSqliteDatabase). PostgreSQL: a new backend per request
        # cost a connect and ran every statement colder; a kept one is checked before each request,
        # so a promoted standby is still found on the next request (hub/db.py, `checkout`).
        if isinstance(database.obj, KEEPS_CONNECTIONS):
            database.obj.checkin(failed=exc is not None)
        elif not database.is_closed() and (is_postgres() or database.in_transaction()):
            database.close()  # PostgreSQL by another of playhouse's URL schemes: per request, as before


def _flag(value: object) -> bool:
    """A setting read as on/off: DAIBAN_HUB_PG_KEEP_CONNECTIONS=0 (or false, off, no) turns it off."""
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "off", "no", "")
    return bool(value)


def session_secret() -> str:
    """The session signing key, made once and kept in the database, never in the repo."""
    with database.connection_context():
        if not database.table_exists(Setting._meta.table_name):
            return secrets.token_hex(32)
        # gunicorn boots its workers at once: the first insert wins, every worker reads the winner's key
        # (a plain create made the losing worker fail to boot, taking the whole server down).
        return settings.put_once("session_secret", secrets.token_hex(32))
