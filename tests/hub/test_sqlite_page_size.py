"""A new SQLite hub database gets the larger page; one made before keeps its own and works as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub.backup import restore
from hub.db import SQLITE_PAGE_SIZE, bind, database, open_database
from hub.models import Setting
from hub.schema import SCHEMA_VERSION
from tests import support


def _page_size(db_file: Path) -> int:
    with sqlite3.connect(db_file) as db:
        return int(db.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_hub_database_is_made_with_the_larger_page(tmp_path: Path) -> None:
    fresh = tmp_path / "hub.sqlite3"
    assert support.migrate_hub(f"sqlite:///{fresh}") == (0, SCHEMA_VERSION)
    assert SQLITE_PAGE_SIZE != 4096
    assert _page_size(fresh) == SQLITE_PAGE_SIZE
    with sqlite3.connect(fresh) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_made_with_the_old_page_keeps_it_and_its_rows(tmp_path: Path) -> None:
    old = tmp_path / "hub.sqlite3"
    with sqlite3.connect(old) as db:
        db.execute("PRAGMA page_size = 4096")
        db.execute("PRAGMA journal_mode = wal")
        db.execute("CREATE TABLE kept (v TEXT)")
        db.execute("INSERT INTO kept VALUES ('旧数据')")
    assert support.migrate_hub(f"sqlite:///{old}") == (0, SCHEMA_VERSION)
    assert _page_size(old) == 4096
    bind(open_database(f"sqlite:///{old}"))
    try:
        with database.connection_context():
            assert Setting.get_or_none(Setting.key == "schema_version") is not None
            assert database.execute_sql("SELECT v FROM kept").fetchall() == [("旧数据",)]
    finally:
        if not database.is_closed():
            database.close()


def test_a_backup_with_the_old_page_restores_into_an_empty_database_the_hub_opened(tmp_path: Path) -> None:
    old_backup = tmp_path / "daiban-hub-old.sqlite3"
    db = sqlite3.connect(old_backup)
    db.execute("PRAGMA page_size = 4096")
    db.execute("CREATE TABLE kept (v TEXT)")
    db.execute("INSERT INTO kept VALUES ('旧数据')")
    db.commit()
    db.close()
    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    dest = data_dir / "hub.sqlite3"
    url = f"sqlite:///{dest}"
    opened = open_database(url)  # the service started once on the new machine: an empty WAL file
    opened.connect()
    opened.close()
    assert _page_size(dest) == SQLITE_PAGE_SIZE
    restore(data_dir, url, old_backup)
    assert _page_size(dest) == 4096
    assert support.migrate_hub(f"sqlite:///{dest}")[1] == SCHEMA_VERSION
    with sqlite3.connect(dest) as db:
        assert db.execute("SELECT v FROM kept").fetchall() == [("旧数据",)]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
