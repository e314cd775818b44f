"""A full disk or a read-only data directory: say so in Chinese, keep reading, keep /healthz honest.

SQLite reports these as OperationalError ("database or disk is full", "attempt to write a
readonly database", "disk I/O error"); file writes as OSError (ENOSPC, EROFS, EACCES).
Pages answer 503 with what to do, the JSON API a JSON error; reads keep working, so a
clerk can still look up requests and print what was saved. The last such failure is
remembered for /healthz and `daiban node doctor`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import peewee
from flask import Flask, jsonify, render_template, request

FULL, READONLY, IO = "disk_full", "read_only", "disk_error"

MESSAGES = {
    FULL: "本机磁盘已满，刚才的操作未能保存。请清理磁盘（删除下载的文件、清空回收站，至少留出 500 MB）后重试；"
    "已保存的记录不受影响，仍可查看和打印。",
    READONLY: "本机数据目录不能写入（只读或无权限），刚才的操作未能保存。请检查磁盘是否写保护、数据目录权限，"
    "或联系县里技术人员；已保存的记录仍可查看和打印。",
    IO: "读写本机磁盘出错，刚才的操作未能保存。请尽快备份数据目录并检查硬盘，或联系县里技术人员；"
    "已保存的记录仍可查看。",
}

# How long a failed write keeps /healthz saying so, even if nothing was tried since.
REMEMBER_S = 600
_last: dict[str, Any] = {"kind": None, "at": 0.0}


def classify(exc: BaseException) -> str | None:
    """FULL, READONLY or IO when the exception (or one it arose from) is storage trouble, else None.

    SQLite rolls a transaction back by itself on SQLITE_FULL, so the error that surfaces is often
    peewee's "cannot rollback - no transaction is active", raised while handling the real one.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        kind = _classify_one(seen)
        if kind is not None:
            return kind
        seen = seen.__cause__ or seen.__context__
    return None


def _classify_one(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and not isinstance(exc, (sqlite3.Error, peewee.PeeweeException)):
        return {
            errno.ENOSPC: FULL,
            errno.EDQUOT: FULL,
            errno.EROFS: READONLY,
            errno.EACCES: READONLY,
            errno.EPERM: READONLY,
            errno.EIO: IO,
        }.get(exc.errno or 0)
    if not isinstance(exc, (sqlite3.OperationalError, peewee.OperationalError)):
        return None
    text = str(exc).lower()
    if "full" in text:
        return FULL
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return READONLY
    if "disk i/o" in text:
        return IO
    return None


def note(kind: str) -> None:
    """Remember a storage failure for /healthz and the doctor."""
    _last.update(kind=kind, at=time.monotonic())


def recent() -> str | None:
    """The storage failure seen in the last REMEMBER_S seconds, if any."""
    if _last["kind"] and time.monotonic() - _last["at"] < REMEMBER_S:
        return str(_last["kind"])
    return None


def probe(data_dir: str | Path) -> str | None:
    """Write, sync and delete a small file in the data directory: the trouble it meets, or None."""
    try:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".probe-", delete=True) as f:
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return classify(exc) or IO
    return None


def status(data_dir: str | Path) -> str | None:
    """The storage trouble now (probe) or seen lately (a failed database write), or None."""
    return probe(data_dir) or recent()


def init_app(app: Flask) -> None:
    """Turn storage failures into a clear 503 (page or JSON) instead of a bare 500."""

    def handle(exc: Exception) -> Any:
        kind = classify(exc)
        if kind is None:
            raise exc
        note(kind)
        app.logger.error("storage failure (%s): %s", kind, exc)
        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": kind, "message": MESSAGES[kind]}}), 503
        return render_template("error.html", title="无法保存", message=MESSAGES[kind]), 503

    for cls in (peewee.OperationalError, sqlite3.OperationalError, OSError):
        app.register_error_handler(cls, handle)
