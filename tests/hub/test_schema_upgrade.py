"""A hub database made by the previous release (tests/fixtures/node-v1.tar.gz, release 3a0ad90) is
migrated to a schema identical to a fresh one: every table, column and index a release adds comes
with a step in hub/schema.py."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path
from typing import Any

from hub.schema import SCHEMA_VERSION
from tests import support

FIXTURE = support.ROOT / "tests" / "fixtures" / "node-v1.tar.gz"


def _schema(db_file: Path) -> dict[str, Any]:
    with sqlite3.connect(db_file) as db:
        tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        return {
            t: {
                "columns": sorted((c[1], c[2].upper(), c[3], c[5]) for c in db.execute(f'PRAGMA table_info("{t}")')),
                "indexes": sorted(
                    (bool(i[2]), tuple(c[2] for c in db.execute(f'PRAGMA index_info("{i[1]}")')))
                    for i in db.execute(f'PRAGMA index_list("{t}")')
                ),
            }
            for t in tables
        }


def _rows(db_file: Path, columns: dict[str, list[str]] | None = None) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table; with `columns`, only those columns (a step may add new ones)."""
    with sqlite3.connect(db_file) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for t in tables:
            cols = (columns or {}).get(t) or [c[1] for c in db.execute(f'PRAGMA table_info("{t}")')]
            quoted = ", ".join(f'"{c}"' for c in cols)
            out[t] = set(db.execute(f'SELECT {quoted} FROM "{t}"').fetchall())
        return out


def _columns(db_file: Path) -> dict[str, list[str]]:
    with sqlite3.connect(db_file) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: [c[1] for c in db.execute(f'PRAGMA table_info("{t}")')] for t in tables}


def test_previous_release_hub_upgrades_to_the_fresh_schema_and_keeps_its_rows(tmp_path: Path) -> None:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    old = tmp_path / "hub" / "hub.sqlite3"
    before, old_columns = _rows(old), _columns(old)
    assert support.migrate_hub(f"sqlite:///{old}")[1] == SCHEMA_VERSION
    fresh = tmp_path / "fresh.sqlite3"
    assert support.migrate_hub(f"sqlite:///{fresh}") == (0, SCHEMA_VERSION)
    upgraded, expected = _schema(old), _schema(fresh)
    missing = {t: v for t, v in expected.items() if upgraded.get(t) != v}
    assert not missing, (
        "an upgraded hub database differs from a fresh one: add a step to hub/schema.py "
        f"that creates these tables/columns/indexes: {sorted(missing)}"
    )
    after = _rows(old, old_columns)
    lost = [t for t, rows in before.items() if t not in ("setting", "schema_migration") and not rows <= after[t]]
    assert not lost, f"rows lost or changed by the upgrade in {lost}"
