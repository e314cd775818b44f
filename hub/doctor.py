"""`daiban hub doctor`: checks the township hub and says in plain Chinese what to fix.

Database (reachable, schema current), keys (present, private), scheduler (heartbeat recent),
working calendar (covers every year running cases and the next 90 days reach), disk.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Callable

from shared import doctor
from shared.doctor import Finding, key_too_open, run_isolated

from . import promises
from .clock import now
from .db import database
from .keys import key_path
from .models import JobRun
from shared.msgid import N_

DISK_MIN_FREE = 1024 * 1024 * 1024
DISK_LOW_FREE = 5 * 1024 * 1024 * 1024
# The heartbeat runs every minute; a few missed beats mean no scheduler, so no deadline sweeps.
HEARTBEAT_MAX_AGE = timedelta(minutes=5)


def check_database() -> Finding:
    """The database answers and its schema is the one this software expects."""
    from .schema import SCHEMA_VERSION, current_version

    database.execute_sql("SELECT 1")
    version = current_version()
    if version < SCHEMA_VERSION:
        return Finding(
            N_("数据库"),
            "problem",
            N_(
                "数据库结构版本 %(version)s 低于软件的 %(expected)s；请运行 daiban hub migrate",
                version=version,
                expected=SCHEMA_VERSION,
            ),
        )
    if version > SCHEMA_VERSION:
        return Finding(
            N_("数据库"), "problem", N_("数据库结构版本 %(version)s 比软件新；请升级中心软件", version=version)
        )
    return Finding(N_("数据库"), "ok", N_("数据库可用，结构版本 %(version)s", version=version))


def check_keys(data_dir: Path) -> Finding:
    """The hub key exists and only its owner can read it."""
    key = key_path(data_dir)
    if not key.exists():
        return Finding(
            N_("密钥"),
            "problem",
            N_("找不到中心密钥 %(key)s；请用备份恢复（重新生成会使所有代办点无法验证中心）", key=str(key)),
        )
    too_open = key_too_open(key)
    if too_open is not None:
        return too_open
    return Finding(N_("密钥"), "ok", N_("中心密钥齐全"))


def check_scheduler() -> Finding:
    """The scheduler's heartbeat is recent (it runs the deadline sweep)."""
    last = JobRun.select().where((JobRun.job == "heartbeat") & JobRun.ok).order_by(JobRun.started_at.desc()).first()
    if last is None:
        return Finding(
            N_("调度"),
            "problem",
            N_(
                "调度进程从未运行：期限巡检不会进行；请启动 daiban hub scheduler（systemctl start daiban-hub-scheduler）"
            ),
        )
    age = now() - last.started_at
    if age > HEARTBEAT_MAX_AGE:
        return Finding(
            N_("调度"),
            "problem",
            N_(
                "调度进程已 %(minutes)s 分钟没有心跳；请检查 daiban hub scheduler 是否在运行",
                minutes=int(age.total_seconds() // 60),
            ),
        )
    return Finding(N_("调度"), "ok", N_("调度进程 %(seconds)s 秒前有心跳", seconds=int(age.total_seconds())))


def check_calendar() -> Finding:
    """Every year running cases and the next 90 days reach has holidays entered."""
    warning = promises.calendar_warning()
    if warning:
        return Finding(N_("工作日历"), "warn", warning)
    return Finding(N_("工作日历"), "ok", N_("在办件期限和今后 90 天都在已知的节假日安排之内"))


def check_disk(data_dir: Path) -> Finding:
    """Free space where the hub keeps its data and backups."""
    return doctor.check_disk(data_dir, DISK_MIN_FREE, DISK_LOW_FREE, N_("请清理旧备份或扩容"))


def run_checks(data_dir: Path) -> list[Finding]:
    """Every check, each isolated so one failure does not hide the others."""
    checks: list[tuple[str, Callable[[], Finding]]] = [
        (N_("数据库"), check_database),
        (N_("密钥"), lambda: check_keys(data_dir)),
        (N_("调度"), check_scheduler),
        (N_("工作日历"), check_calendar),
        (N_("磁盘"), lambda: check_disk(data_dir)),
    ]
    return run_isolated(checks, database.connection_context)
