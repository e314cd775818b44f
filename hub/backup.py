"""`daiban hub backup` / `restore`: a consistent copy of the hub database, with retention.

SQLite is copied with the online backup API (consistent while the hub keeps serving);
PostgreSQL with pg_dump's custom format. The password never appears on a command line:
it goes to pg_dump/pg_restore through PGPASSWORD.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from .db import postgres_url

BACKUP_DIR = "backups"
PREFIX = "hub-"


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message is for the operator."""


def backup_dir(data_dir: str | Path) -> Path:
    """Where backups go by default: DATA_DIR/backups."""
    return Path(data_dir) / BACKUP_DIR


def sqlite_path(data_dir: str | Path, url: str | None) -> Path | None:
    """The SQLite file the hub uses, or None on PostgreSQL."""
    if not url:
        return Path(data_dir) / "hub.sqlite3"
    if url.startswith("sqlite:///"):
        return Path(url.split("sqlite:///", 1)[1])
    return None


def _pg_args(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment carrying the password."""
    parts = urlsplit(postgres_url(url) or url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    # Every host:port as written: a multi-host URL (primary + standby) has several, and
    # urlsplit's .port cannot read them.
    hosts = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{parts.username}@{hosts}" if parts.username else hosts
    return urlunsplit(("postgresql", netloc, parts.path, parts.query, "")), env


def backup(data_dir: str | Path, url: str | None, keep: int = 14, out_dir: str | Path | None = None) -> Path:
    """Write a new backup and delete all but the newest `keep`; returns the new file."""
    target_dir = Path(out_dir) if out_dir else backup_dir(data_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    src = sqlite_path(data_dir, url)
    final = target_dir / f"{PREFIX}{stamp}.{'sqlite3' if src else 'pgdump'}"
    tmp = final.with_suffix(final.suffix + ".part")
    if src is not None:
        if not src.exists():
            raise BackupError(f"找不到中心数据库文件：{src}")
        with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as source, sqlite3.connect(tmp) as dest:
            source.backup(dest)
    else:
        assert url is not None
        dsn, env = _pg_args(url)
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--file", str(tmp), "--dbname", dsn],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"pg_dump 失败：{done.stderr.strip()[:500]}")
    os.chmod(tmp, 0o600)
    os.replace(tmp, final)
    prune(target_dir, keep)
    return final


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the oldest backups beyond `keep`; returns what was deleted."""
    found = sorted(p for p in directory.glob(f"{PREFIX}*") if not p.name.endswith(".part"))
    doomed = found[:-keep] if keep > 0 else []
    for p in doomed:
        p.unlink()
    return doomed


def restore(data_dir: str | Path, url: str | None, file: str | Path) -> None:
    """Load a backup into this hub's database, which must be empty (a fresh instance)."""
    file = Path(file)
    if not file.exists():
        raise BackupError(f"找不到备份文件：{file}")
    dest = sqlite_path(data_dir, url)
    if dest is not None:
        if file.suffix != ".sqlite3":
            raise BackupError("这是 PostgreSQL 备份，不能恢复到 SQLite 中心")
        if dest.exists() and dest.stat().st_size > 0 and _sqlite_has_tables(dest):
            raise BackupError(f"目标数据库已有数据：{dest}；请恢复到新的空目录，或先移走旧文件")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as source, sqlite3.connect(dest) as target:
            # An empty file the hub already opened is in WAL mode with the hub's page size; a backup
            # made with another page size (any before SQLITE_PAGE_SIZE) cannot be copied into it
            # then. Out of WAL, the copy takes the backup's page size; the hub sets WAL again on open.
            target.execute("PRAGMA journal_mode = DELETE")
            source.backup(target)
        return
    if file.suffix != ".pgdump":
        raise BackupError("这是 SQLite 备份，不能直接恢复到 PostgreSQL 中心")
    assert url is not None
    dsn, env = _pg_args(url)
    done = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", "--dbname", dsn, str(file)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore 失败（目标库须为空库）：{done.stderr.strip()[:500]}")


def _sqlite_has_tables(path: Path) -> bool:
    # Closed at once: a connection left to the collector keeps its read open, and restore's
    # switch out of WAL would find the file locked.
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
    finally:
        db.close()
