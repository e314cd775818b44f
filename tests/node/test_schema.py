"""Node schema migrations: a database made by the previous release is upgraded in place by starting
the new version, loses nothing, and syncs on; upgraded and fresh databases have the same schema."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path
from typing import Any, Iterator

import peewee
import pytest

from node import schema
from node.db import bind, database, open_database
from node.models import Request
from tests import support
from tests.deploy.helpers import capture, hub_rows, node_rows

FIXTURE = support.ROOT / "tests" / "fixtures" / "node-v1.tar.gz"  # made by tests/fixtures/make_node_v1.py


def _unpack(tmp: Path) -> tuple[Path, Path]:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "hub", tmp / "node"


def _rows(db_file: Path) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table, read with plain sqlite3."""
    with sqlite3.connect(db_file) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: set(db.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}


def _schema(db_file: Path) -> dict[str, Any]:
    """Tables with their columns and indexes, as SQLite reports them (not the DDL text)."""
    with sqlite3.connect(db_file) as db:
        tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        out: dict[str, Any] = {}
        for t in tables:
            columns = sorted((c[1], c[2].upper(), c[3], c[5]) for c in db.execute(f'PRAGMA table_info("{t}")'))
            indexes = sorted(
                (bool(i[2]), tuple(c[2] for c in db.execute(f'PRAGMA index_info("{i[1]}")')))
                for i in db.execute(f'PRAGMA index_list("{t}")')
            )
            out[t] = {"columns": columns, "indexes": indexes}
        return out


@pytest.fixture
def v1_db(tmp_path: Path) -> Iterator[Path]:
    """The previous release's node database, bound in this process."""
    _, node_dir = _unpack(tmp_path)
    path = node_dir / "node.sqlite3"
    bind(open_database(path))
    yield path
    if not database.is_closed():
        database.close()


def test_previous_release_node_upgrades_in_place_and_syncs_on(tmp_path: Path) -> None:
    hub_dir, node_dir = _unpack(tmp_path)
    db_file = node_dir / "node.sqlite3"
    with sqlite3.connect(db_file) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "schema_migration" not in tables, "the fixture must be a database made before versions"
    hub = support.Service("hub", hub_dir, support.free_port()).start()
    try:
        # The hub now answers on another port: the county changed the address the node syncs to.
        with sqlite3.connect(db_file) as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'hub_url'", (json.dumps(hub.url),))
        before = _rows(db_file)
        assert len(before["request"]) == 6
        assert sum(1 for e in node_rows_of(db_file, "SELECT result FROM event") if e[0] == "ok") == 3
        assert len(before["hubupdate"]) > 0

        node = support.Service("node", node_dir, support.free_port(), extra=["--no-sync"]).start()
        node.stop()

        after = _rows(db_file)
        assert node_rows_of(db_file, "SELECT version FROM schema_migration ORDER BY version") == [
            (v,) for v in range(1, schema.schema_version() + 1)
        ]
        for table, rows in before.items():
            assert rows <= after[table], f"{table}: rows lost or changed by the upgrade"

        node.cli("sync")
        assert node_rows(node, "SELECT count(*) FROM event WHERE result IS NULL") == [(0,)]
        assert node_rows(node, "SELECT count(*) FROM event WHERE result = 'ok'") == [(6,)]
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(6,)]

        capture(node, tmp_path, name="孙七")
        node.cli("sync")
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(7,)]
        assert node_rows(node, "SELECT count(*) FROM event WHERE result = 'ok'") == [(7,)]
        # Every command opened the database again: migrations ran each time and changed nothing.
        assert node_rows(node, "SELECT count(*) FROM schema_migration") == [(schema.schema_version(),)]
    finally:
        hub.stop()


def node_rows_of(db_file: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_file) as db:
        return db.execute(sql).fetchall()


def test_upgraded_database_has_the_schema_of_a_fresh_one(tmp_path: Path, v1_db: Path) -> None:
    with database.connection_context():
        assert schema.migrate() == (1, schema.schema_version())
    database.close()
    fresh = tmp_path / "fresh.sqlite3"
    bind(open_database(fresh))
    with database.connection_context():
        assert schema.migrate() == (0, schema.schema_version())
    database.close()
    # A release that adds a table, column or index without a step here fails this test.
    assert _schema(v1_db) == _schema(fresh)


def test_migrate_twice_is_harmless(v1_db: Path) -> None:
    with database.connection_context():
        schema.migrate()
        rows = _rows(v1_db)
        assert schema.migrate() == (schema.schema_version(), schema.schema_version())
    assert _rows(v1_db) == rows


def test_a_step_adding_a_column_runs_once(v1_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playhouse.migrate import migrate as run_operations

    latest = schema.schema_version() + 1

    def add_note_column(migrator: Any) -> None:
        if not schema.has_column(Request, "village_note"):
            run_operations(migrator.add_column("request", "village_note", peewee.TextField(null=True)))

    monkeypatch.setitem(schema.MIGRATIONS, latest, add_note_column)
    with database.connection_context():
        assert schema.migrate() == (1, latest)
        assert schema.has_column(Request, "village_note")
        # Pretend the step's version was never recorded (a power cut after the step): it runs again, harmlessly.
        schema.SchemaMigration.delete().where(schema.SchemaMigration.version == latest).execute()
        assert schema.migrate() == (latest - 1, latest)
        assert Request.select().count() == 6


def test_a_failing_step_leaves_the_database_as_it_was(v1_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(v1_db)

    def broken(migrator: Any) -> None:
        database.execute_sql("ALTER TABLE request ADD COLUMN half_done TEXT")
        raise RuntimeError("disk full")

    monkeypatch.setitem(schema.MIGRATIONS, schema.schema_version() + 1, broken)
    with database.connection_context():
        with pytest.raises(RuntimeError, match="disk full"):
            schema.migrate()
        assert schema.current_version() == 1
        assert not schema.has_column(Request, "half_done")
    assert _rows(v1_db) == rows


def test_a_newer_database_is_refused_untouched(v1_db: Path) -> None:
    with database.connection_context():
        schema.migrate()
        schema.SchemaMigration.create(version=99, applied_at=schema.now())
        rows = _rows(v1_db)
        with pytest.raises(RuntimeError, match="比本软件.*新"):
            schema.migrate()
    assert _rows(v1_db) == rows


def test_the_duplicate_check_at_capture_reads_by_applicant_and_item(
    v1_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Schema 6: open_request_for is an index look-up, not a read of every request of the item."""
    from node.capture import open_request_for

    with database.connection_context():
        schema.migrate()
        with caplog.at_level("DEBUG", logger="peewee"):
            assert open_request_for("110101199001011234", "JF-01") is None
        logged: Any = caplog.records[-1].msg  # peewee logs each query as the pair (sql, params)
        sql, params = logged
        plan = " ".join(str(row[-1]) for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert "request_id_number_item_code" in plan
    database.close()
