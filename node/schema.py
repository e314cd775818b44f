"""The node's schema versions and migrations, run each time the node opens its database.

A village PC is upgraded by installing the new release and starting it again; nobody runs a
separate migrate command there. So opening the database brings it up to date: an empty file
gets the latest tables at once, an older one runs each step after its recorded version, in
order, in one transaction (SQLite's write lock keeps a CLI command and the server from
migrating at the same time). Every step checks before it changes anything, so a step that was
interrupted, or is run twice, is harmless.

Version 1 is the schema of the releases before this table existed (they ran
`create_tables(safe=True)` only); such a database has tables but no `schema_migration`.

A release that adds a table, column or index adds a step here; tests/node/test_schema.py
fails while an upgraded database differs from a fresh one.
"""

from __future__ import annotations

from typing import Callable

import peewee
from playhouse.migrate import SchemaMigrator

from shared import schema_steps
from playhouse.migrate import migrate as migrate_ops

from .clock import now
from .db import BaseModel, database
from .models import ALL_MODELS, Event, ForgottenUpdate, Meta, Request, StagedUpdate


SchemaMigration = schema_steps.version_table(BaseModel)


def has_column(model: type[peewee.Model], column: str) -> bool:
    """True when the model's table already has the column (steps check before they add)."""
    return schema_steps.has_column(database, model, column)


def _step_2(migrator: SchemaMigrator) -> None:
    """Schema 2: the version table itself (created by migrate() before any step runs)."""


def _step_3(migrator: SchemaMigrator) -> None:
    """Schema 3: the hub's log fetched anew after the hub lost its tail, and what it forgot (node/reconcile.py)."""
    database.create_tables([StagedUpdate, ForgottenUpdate], safe=True)


def _step_4(migrator: SchemaMigrator) -> None:
    """Schema 4: an index on the applicant's phone, so the clerk's search by phone number stays fast."""
    if not any(ix.columns == ["phone"] for ix in database.get_indexes(Request._meta.table_name)):
        migrate_ops(migrator.add_index(Request._meta.table_name, ("phone",), False))


def _step_5(migrator: SchemaMigrator) -> None:
    """Schema 5: an index of the queued events, so counting them per batch and poll does not read the whole log."""
    Event._schema.create_indexes(safe=True)


def _step_6(migrator: SchemaMigrator) -> None:
    """Schema 6: an index of requests by applicant and item, for the duplicate check at every capture."""
    Request._schema.create_indexes(safe=True)


# Each step moves the schema from version n-1 to n and must be safe to re-run.
MIGRATIONS: dict[int, Callable[[SchemaMigrator], None]] = {
    2: _step_2,
    3: _step_3,
    4: _step_4,
    5: _step_5,
    6: _step_6,
}


def schema_version() -> int:
    """The version this release's code expects."""
    return max(MIGRATIONS, default=1)


def current_version() -> int:
    """The version recorded in the database: 0 for an empty file, 1 for one made before versions."""
    got = schema_steps.recorded_version(SchemaMigration)
    if got:
        return got
    return 1 if database.table_exists(Meta._meta.table_name) else 0


def migrate() -> tuple[int, int]:
    """Bring the open database to the latest version; returns (before, after). Safe to run twice."""
    latest = schema_version()
    with database.atomic():
        before = current_version()
        if before > latest:
            raise RuntimeError(f"本机数据库结构版本 {before} 比本软件（{latest}）新：请安装新版代办点软件，勿降级")
        schema_steps.run_steps(database.obj, SchemaMigration, ALL_MODELS, MIGRATIONS, before, latest, now)
    return before, latest
