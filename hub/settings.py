"""The hub's key-value settings (table `setting`): one place to read, write, draw-once and delete a value.

Keys in use: schema_version, session_secret, hub_epoch/epoch_at, key rotations, last_sweep,
extra_holidays/extra_workdays, daily figures, session epochs per staff member, lost tails per node.
"""

from __future__ import annotations

from collections.abc import Callable

from .db import database
from .models import Setting


def get(key: str) -> str | None:
    """The stored value, or None when the key was never set."""
    return get_sent(key)()


def get_sent(key: str) -> Callable[[], str | None]:
    """`get`'s statement sent now; calling the result reads the value (hub.db.pipelined: with others)."""
    # Plain SQL: each sync batch reads several settings, and peewee's query compiler cost more than the read.
    sql = f'SELECT "value" FROM "{Setting._meta.table_name}" WHERE "key" = {database.param}'  # nosec B608
    cursor = database.execute_sql(sql, (key,))

    def value() -> str | None:
        row = cursor.fetchone()
        return None if row is None else str(row[0])

    return value


def put(key: str, value: str) -> None:
    """Set the value, replacing any (one statement, safe against a concurrent writer of the same key)."""
    Setting.insert(key=key, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}
    ).execute()


def delete(key: str) -> None:
    """Remove the key and its value (nothing when it was never set)."""
    Setting.delete().where(Setting.key == key).execute()


def put_once(key: str, value: str) -> str:
    """Store the value unless the key already holds one; returns what the key holds afterwards.

    Concurrent callers (gunicorn workers booting together) all get the first writer's value.
    """
    Setting.insert(key=key, value=value).on_conflict_ignore().execute()
    return str(Setting.get(Setting.key == key).value)
