"""The node's SQLite database: WAL, full sync, foreign keys; bound at runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

database = peewee.DatabaseProxy()

PRAGMAS = {
    "journal_mode": "wal",
    # FULL: what the clerk saw saved survives a power cut.
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 30000,
    "cache_size": -8000,
}


def open_database(path: str | Path) -> peewee.SqliteDatabase:
    """The node database file, opened with durable settings."""
    return peewee.SqliteDatabase(str(path), pragmas=PRAGMAS, timeout=30, lock_type="IMMEDIATE", check_same_thread=False)


def bind(db: peewee.Database) -> None:
    """Point the models at a database."""
    database.initialize(db)


class JSONField(peewee.TextField):
    """JSON stored as text."""

    def db_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if type(value) is list and not value:
            return "[]"  # what json.dumps writes, without its call: most list columns are empty
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)

    if TYPE_CHECKING:  # on a row the attribute is the decoded value, not the field

        def __get__(self, instance: Any, owner: Any = None) -> Any: ...

        def __set__(self, instance: Any, value: Any) -> None: ...


class BaseModel(peewee.Model):
    class Meta:
        database = database
