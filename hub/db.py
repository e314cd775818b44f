"""The hub's database: one proxy, chosen at runtime (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    # FULL: a commit the hub acknowledged survives a power cut.
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 30000,
}


def open_database(url: str) -> peewee.Database:
    """A database for a URL: sqlite:///path or postgresql://user@host/db."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else ":memory:"
        return peewee.SqliteDatabase(
            path, pragmas=SQLITE_PRAGMAS, timeout=30, lock_type="IMMEDIATE", check_same_thread=False
        )
    return connect(url)


def bind(db: peewee.Database) -> None:
    """Point the models at a database."""
    database.initialize(db)


def is_postgres() -> bool:
    """True when the hub runs on PostgreSQL (row locks instead of SQLite's write lock)."""
    return isinstance(database.obj, peewee.PostgresqlDatabase)


class JSONField(peewee.TextField):
    """JSON stored as text, the same on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)

    if TYPE_CHECKING:  # on a row the attribute is the decoded value, not the field

        def __get__(self, instance: Any, owner: Any = None) -> Any: ...

        def __set__(self, instance: Any, value: Any) -> None: ...


class BaseModel(peewee.Model):
    class Meta:
        database = database
