"""The one way hub and node bring a database to their schema version (hub/schema.py, node/schema.py).

Each app keeps its own steps and version rules; this holds what they share: the version table,
the check a step makes before it adds a column, and the runner. An empty database gets the latest
tables at once and every version recorded; an older one runs each step after its recorded version,
in order, inside the caller's transaction. Steps check before they change anything, so a step that
was interrupted, or is run twice, is harmless.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable

import peewee
from playhouse.migrate import SchemaMigrator

Step = Callable[[SchemaMigrator], None]


def version_table(base: type[peewee.Model]) -> Any:
    """The version table (`schema_migration`, one row per version applied) on an app's base model."""

    class SchemaMigration(base):
        """One row per schema version applied to this database."""

        version = peewee.IntegerField(primary_key=True)
        applied_at = peewee.DateTimeField()

        class Meta:
            table_name = "schema_migration"

    return SchemaMigration


def recorded_version(table: Any) -> int | None:
    """The highest version in the version table, or None when it is missing or empty."""
    if not table._meta.database.table_exists(table._meta.table_name):
        return None
    got = table.select(peewee.fn.MAX(table.version)).scalar()
    return int(got) if got else None


def has_column(db: peewee.Database, model: type[peewee.Model], column: str) -> bool:
    """True when the model's table already has the column (steps check before they add)."""
    return any(c.name == column for c in db.get_columns(model._meta.table_name))


def is_nullable(db: peewee.Database, model: type[peewee.Model], column: str) -> bool:
    """True when the model's table already lets the column be empty (steps check before they drop NOT NULL)."""
    return any(c.name == column and c.null for c in db.get_columns(model._meta.table_name))


def widen_varchar(db: peewee.Database, migrator: SchemaMigrator, model: type[peewee.Model], name: str) -> None:
    """Give a VARCHAR column the (larger) length its field now declares; harmless when it already has it.

    PostgreSQL alters the type in place (widening a VARCHAR rewrites nothing). SQLite never enforces
    the length, but its declared type is part of the schema a fresh database is compared with: it is
    rewritten in the table's definition as SQLite's ALTER TABLE documentation describes for changes
    that leave stored data as it is (the same TEXT affinity), since rebuilding the table, as
    playhouse does, is refused while other tables' foreign keys point at it.
    """
    from playhouse.migrate import migrate

    field = model._meta.fields[name]
    table, column, width = model._meta.table_name, field.column_name, int(field.max_length)
    if not isinstance(db, peewee.SqliteDatabase):
        migrate(migrator.alter_column_type(table, column, field))
        return
    (ddl,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    wider = re.sub(rf'("{re.escape(column)}" VARCHAR\()\d+(\))', rf"\g<1>{width}\2", ddl, flags=re.I)
    if wider == ddl:
        return
    (version,) = db.execute_sql("PRAGMA schema_version").fetchone()
    db.execute_sql("PRAGMA writable_schema = ON")
    try:
        db.execute_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (wider, table))
        # Other connections re-read the schema when its version moves.
        db.execute_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        db.execute_sql("PRAGMA writable_schema = OFF")


def run_steps(
    db: peewee.Database,
    table: Any,
    all_models: list[type[peewee.Model]],
    steps: dict[int, Step],
    before: int,
    latest: int,
    now: Callable[[], datetime],
) -> None:
    """Move the database from `before` (0 = empty) to `latest`; the caller holds the transaction.

    Only the steps the app has run: step numbers are handed to branches ahead of their merge, so a
    release may skip one.
    """

    def record(version: int) -> None:
        table.insert(version=version, applied_at=now()).on_conflict_ignore().execute()

    db.create_tables([table], safe=True)
    if before == 0:
        db.create_tables(all_models, safe=True)
        for version in range(1, latest + 1):
            record(version)
        return
    record(1)
    migrator = SchemaMigrator.from_database(db)
    for version in sorted(v for v in steps if before < v <= latest):
        steps[version](migrator)
        record(version)
