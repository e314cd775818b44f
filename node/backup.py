"""Local backups of the node database with SQLite's online backup API, kept to a retention count."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("daiban.node.backup")

DB_FILE = "node.sqlite3"
DEFAULT_KEEP = 14
PREFIX = "node-"
SUFFIX = ".sqlite3"


class RestoreError(Exception):
    """A backup file we will not put in place; `message` is for the clerk."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def backup_dir(data_dir: str | Path) -> Path:
    """Where backups are written."""
    return Path(data_dir) / "backups"


def list_backups(data_dir: str | Path) -> list[Path]:
    """Backups oldest first (their names sort by time)."""
    return sorted(backup_dir(data_dir).glob(f"{PREFIX}*{SUFFIX}"))


def backup_now(data_dir: str | Path, keep: int = DEFAULT_KEEP, when: datetime | None = None) -> Path:
    """Copy the live database consistently (writers may continue) and keep the newest `keep` copies."""
    data_dir = Path(data_dir)
    out_dir = backup_dir(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = out_dir / f"{PREFIX}{stamp}{SUFFIX}"
    n = 1
    while target.exists():
        target = out_dir / f"{PREFIX}{stamp}-{n}{SUFFIX}"
        n += 1
    tmp = target.with_name(target.name + ".part")
    src = sqlite3.connect(str(data_dir / DB_FILE), timeout=30)
    dst = sqlite3.connect(str(tmp))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    for old in list_backups(data_dir)[: -max(1, keep)]:
        old.unlink(missing_ok=True)
    return target


def check_backup(path: str | Path) -> None:
    """Refuse a file that is not a sound node database."""
    path = Path(path)
    if not path.is_file():
        raise RestoreError(f"找不到备份文件：{path}")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise RestoreError("备份文件不是有效的数据库，未恢复") from exc
    if result != "ok":
        raise RestoreError(f"备份文件已损坏（完整性检查：{result}），未恢复")
    if not {"meta", "request", "event", "batch"} <= tables:
        raise RestoreError("备份文件不是代办点的数据库，未恢复")


def restore(data_dir: str | Path, path: str | Path) -> Path:
    """Put a checked backup in place of the database (the node must be stopped); returns the set-aside old file."""
    check_backup(path)
    data_dir = Path(data_dir)
    live = data_dir / DB_FILE
    aside = data_dir / f"{DB_FILE}.before-restore-{datetime.now():%Y%m%d-%H%M%S}"
    if live.exists():
        # Checkpoint first so the set-aside copy is complete on its own.
        con = sqlite3.connect(str(live), timeout=30)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
        shutil.copy2(live, aside)
    tmp = data_dir / f"{DB_FILE}.restoring"
    shutil.copyfile(path, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    # A stale WAL would be replayed onto the restored file: remove it with the old database.
    for suffix in ("-wal", "-shm"):
        Path(str(live) + suffix).unlink(missing_ok=True)
    os.replace(tmp, live)
    return aside


def backup_job(data_dir: str, keep: int) -> None:
    """The scheduled daily backup; logs instead of raising so the scheduler keeps running."""
    try:
        path = backup_now(data_dir, keep)
        log.info("backup written: %s", path)
    except Exception:  # a failed backup must not stop sync; it is logged for the admin
        log.exception("backup failed")


def schedule(scheduler: Any, data_dir: str, keep: int = DEFAULT_KEEP) -> None:
    """Add the daily backup to the node's one scheduler (first run a few minutes after start)."""
    scheduler.add_job(
        backup_job,
        "interval",
        days=1,
        args=[data_dir, keep],
        id="backup",
        next_run_time=datetime.now() + timedelta(minutes=5),
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
