"""Node backups: online backup with retention, checked restore, and the hub as authority after restore."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from node.backup import RestoreError, backup_now, list_backups, restore
from node.capture import capture_request
from node.db import database
from node.models import Request
from tests.factories import capture


def rows(path: Path) -> list[tuple]:
    con = sqlite3.connect(str(path))
    try:
        return con.execute("SELECT receipt_code, applicant_name, state FROM request ORDER BY receipt_code").fetchall()
    finally:
        con.close()


def add(n: int, name: str = "张三") -> list[str]:
    with database.connection_context():
        return [capture_request(capture("JF-01", name=name), "李文书").receipt_code for _ in range(n)]


def test_backup_is_a_consistent_copy_with_retention(node_app) -> None:
    data_dir = Path(node_app.config["DATA_DIR"])
    add(2)
    database.connect(reuse_if_open=True)  # a live connection, as in a running node
    first = backup_now(data_dir, keep=2, when=datetime(2026, 5, 1, 2, 0, 0))
    assert first.name == "node-20260501-020000.sqlite3"
    assert rows(first) == rows(data_dir / "node.sqlite3")
    assert len(rows(first)) == 2
    for day in range(1, 4):
        add(1)
        backup_now(data_dir, keep=2, when=datetime(2026, 5, 1, 2, 0, 0) + timedelta(days=day))
    kept = list_backups(data_dir)
    assert [p.name for p in kept] == ["node-20260503-020000.sqlite3", "node-20260504-020000.sqlite3"]
    assert len(rows(kept[-1])) == 5
    assert not list((data_dir / "backups").glob("*.part"))


def test_restore_puts_backup_contents_back(node_app) -> None:
    data_dir = Path(node_app.config["DATA_DIR"])
    add(2)
    snap = backup_now(data_dir, keep=3)
    expected = rows(snap)
    add(3, name="李四")
    database.close() if not database.is_closed() else None
    aside = restore(data_dir, snap)
    assert rows(data_dir / "node.sqlite3") == expected
    assert len(rows(aside)) == 5  # the replaced database is kept aside, complete
    with database.connection_context():
        assert Request.select().count() == 2


@pytest.mark.parametrize("kind", ["garbage", "other_sqlite", "missing"])
def test_restore_refuses_bad_files_and_changes_nothing(node_app, tmp_path: Path, kind: str) -> None:
    data_dir = Path(node_app.config["DATA_DIR"])
    add(1)
    database.close() if not database.is_closed() else None
    bad = tmp_path / "bad.sqlite3"
    if kind == "garbage":
        bad.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    elif kind == "other_sqlite":
        con = sqlite3.connect(str(bad))
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    live = data_dir / "node.sqlite3"
    before = hashlib.sha256(live.read_bytes()).hexdigest()
    with pytest.raises(RestoreError) as err:
        restore(data_dir, bad)
    assert "未恢复" in err.value.message or "找不到" in err.value.message
    assert hashlib.sha256(live.read_bytes()).hexdigest() == before
    assert not list(data_dir.glob("node.sqlite3.before-restore-*"))


def test_restored_node_resumes_where_the_hub_says(hub_app, node_app) -> None:
    from hub.db import database as hub_db
    from hub.models import Case, ForkAlert
    from tests.linked import link

    linked = link(hub_app, node_app)
    data_dir = Path(node_app.config["DATA_DIR"])
    add(2)
    linked.client().round()
    snap = backup_now(data_dir)
    lost = add(1, name="王五")
    linked.client().round()  # the hub now holds an event the backup does not
    database.close() if not database.is_closed() else None
    restore(data_dir, snap)
    client = linked.client()  # a restarted node: its first round says hello
    client.round()
    with database.connection_context():
        assert Request.get_or_none(Request.receipt_code == lost[0]) is not None  # restored from the hub
    add(1, name="赵六")
    client.round()
    with hub_db.connection_context():
        assert Case.select().count() == 4
        assert ForkAlert.select().count() == 0


def test_daily_backup_joins_the_one_scheduler(node_app) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from node.backup import backup_job, schedule

    sched = BackgroundScheduler()
    sched.start(paused=True)  # started, as `daiban node run` has it, but nothing fires during the test
    try:
        schedule(sched, node_app.config["DATA_DIR"], keep=3)
        schedule(sched, node_app.config["DATA_DIR"], keep=3)  # a second call replaces, never doubles
        jobs = sched.get_jobs()
    finally:
        sched.shutdown(wait=False)
    assert [j.id for j in jobs] == ["backup"]
    assert jobs[0].func is backup_job
    assert jobs[0].trigger.interval == timedelta(days=1)
    backup_job(node_app.config["DATA_DIR"], 3)  # what the scheduler will run
    assert len(list_backups(node_app.config["DATA_DIR"])) == 1
