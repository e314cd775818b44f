"""The one migration runner (shared/schema_steps) for hub and node: what it runs and what it records."""

from __future__ import annotations

from datetime import datetime

from typing import Any

import peewee

from shared import schema_steps


def _world() -> tuple[peewee.SqliteDatabase, type[peewee.Model], Any]:
    db = peewee.SqliteDatabase(":memory:")

    class Base(peewee.Model):
        class Meta:
            database = db

    class Thing(Base):
        name = peewee.TextField(null=True)

    return db, Thing, schema_steps.version_table(Base)


def test_a_release_without_a_step_number_runs_the_steps_it_has_and_records_them() -> None:
    db, thing, table = _world()
    ran: list[int] = []
    steps = {2: lambda m: ran.append(2), 4: lambda m: ran.append(4)}  # step 3 went to a branch not merged yet
    db.create_tables([thing])
    schema_steps.run_steps(db, table, [thing], steps, 1, 4, lambda: datetime(2026, 11, 30))
    assert ran == [2, 4]
    assert [r.version for r in table.select().order_by(table.version)] == [1, 2, 4]
    assert schema_steps.recorded_version(table) == 4


def test_an_empty_database_gets_the_tables_at_once_and_every_version() -> None:
    db, thing, table = _world()
    ran: list[int] = []
    schema_steps.run_steps(db, table, [thing], {2: lambda m: ran.append(2)}, 0, 2, lambda: datetime(2026, 11, 30))
    assert ran == []
    assert db.table_exists("thing")
    assert schema_steps.recorded_version(table) == 2


def test_column_checks_a_step_makes_before_it_changes_anything() -> None:
    db, thing, _table = _world()
    db.create_tables([thing])
    assert schema_steps.has_column(db, thing, "name")
    assert not schema_steps.has_column(db, thing, "age")
    assert schema_steps.is_nullable(db, thing, "name")
    assert not schema_steps.is_nullable(db, thing, "id")
