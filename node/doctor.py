"""`daiban node doctor`: checks a village PC and says in plain Chinese what to fix.

Each check returns a Finding; a problem makes the command exit non-zero so a county
officer's script (or the desktop shortcut's wrapper) can tell at a glance.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import requests

from shared import doctor
from shared.doctor import Finding, key_too_open, run_isolated

from . import meta
from .db import database
from shared.msgid import N_, concatenated

CLOCK_TOLERANCE_S = 300
DISK_MIN_FREE = 500 * 1024 * 1024
DISK_LOW_FREE = 2 * 1024 * 1024 * 1024
BACKUP_MAX_AGE_S = 2 * 24 * 3600
SYNC_MAX_AGE_S = 3 * 24 * 3600


def check_database() -> Finding:
    """SQLite integrity and WAL mode."""
    result = database.execute_sql("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        return Finding(
            N_("数据库"),
            "problem",
            N_("数据库文件损坏（%(result)s）；请停止使用本机，并用最近的备份恢复", result=result[:80]),
        )
    mode = database.execute_sql("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        return Finding(
            N_("数据库"), "warn", N_("数据库日志模式为 %(mode)s，应为 wal；重启代办点软件即可恢复", mode=mode)
        )
    return Finding(N_("数据库"), "ok", N_("数据库完好"))


def check_keys(data_dir: Path) -> Finding:
    """The node key exists, is private to the owner, and the node is enrolled."""
    key = data_dir / "node_key.pem"
    if not key.exists():
        return Finding(
            N_("密钥"), "problem", N_("找不到本机密钥 %(key)s；若是新电脑请重新注册，否则用备份恢复密钥", key=str(key))
        )
    too_open = key_too_open(key)
    if too_open is not None:
        return too_open
    if not meta.get("node_id") or not meta.get("hub_pubkey"):
        return Finding(N_("密钥"), "problem", N_("本机尚未注册到乡镇中心；请向中心索取注册码后运行 daiban node enroll"))
    return Finding(N_("密钥"), "ok", N_("本机密钥与中心密钥齐全"))


def check_clock() -> Finding:
    """The offset from the hub's clock measured at the last sync."""
    offset = meta.get("clock_offset_s")
    if offset is None:
        return Finding(N_("时钟"), "warn", N_("还没有与中心对过时间（尚未同步成功过）"))
    if abs(int(offset)) > CLOCK_TOLERANCE_S:
        direction = N_("快") if offset > 0 else N_("慢")
        return Finding(
            N_("时钟"),
            "problem",
            N_(
                "本机时钟比中心%(direction)s %(minutes)s 分钟；请在 Windows“日期和时间”中校准并开启自动设置时间",
                direction=direction,
                minutes=abs(int(offset)) // 60,
            ),
        )
    return Finding(N_("时钟"), "ok", N_("与中心相差 %(seconds)s 秒", seconds=int(offset)))


def check_hub(timeout: float = 5.0) -> Finding:
    """The hub answers GET /healthz over the same (pinned) connection the sync uses."""
    from .transport import HttpTransport

    url = meta.get("hub_url")
    if not url:
        return Finding(N_("中心连接"), "problem", N_("未配置中心地址；请先注册"))
    transport = HttpTransport(url, timeout=timeout, pin=meta.get("hub_cert_sha256"))
    try:
        resp = transport.session.get(transport.base_url + "/healthz", timeout=timeout)
    except requests.exceptions.SSLError:
        return Finding(N_("中心连接"), "problem", N_("中心的安全证书与注册时不符；请勿继续同步，立即联系县里核实"))
    except requests.RequestException:
        return Finding(
            N_("中心连接"),
            "problem",
            N_(
                "连不上乡镇中心 %(url)s；请检查网线/4G 网卡，或问中心是否开机。断网期间照常录入，联网后自动上传",
                url=url,
            ),
        )
    if resp.status_code != 200:
        return Finding(
            N_("中心连接"), "problem", N_("中心回答异常（HTTP %(status)s）；请联系乡镇管理员", status=resp.status_code)
        )
    return Finding(N_("中心连接"), "ok", N_("中心 %(url)s 在线", url=url))


def check_disk(data_dir: Path) -> Finding:
    """Free space where the database lives."""
    return doctor.check_disk(data_dir, DISK_MIN_FREE, DISK_LOW_FREE, N_("请清理下载文件或回收站，至少留出 500 MB"))


def check_storage(data_dir: Path) -> Finding:
    """The data directory takes a write (not full, not read-only), and no database write failed lately."""
    from . import storage

    trouble = storage.status(data_dir)
    if trouble is None:
        try:
            # A write the database must accept, then undone: a read-only database file refuses it.
            with database.atomic() as txn:
                meta.put("doctor_write_probe", time.time())
                txn.rollback()
        except Exception as exc:  # classified below; anything else is reported by run_checks
            trouble = storage.classify(exc)
            if trouble is None:
                raise
    if trouble:
        return Finding(N_("数据目录"), "problem", storage.MESSAGES[trouble])
    return Finding(N_("数据目录"), "ok", N_("%(dir)s 可以写入", dir=str(data_dir)))


def check_backups(data_dir: Path, now: float | None = None) -> Finding:
    """The newest local backup in DATA_DIR/backups is recent."""
    files = [p for p in (data_dir / "backups").glob("*") if p.is_file()] if (data_dir / "backups").exists() else []
    if not files:
        return Finding(
            N_("备份"), "problem", N_("还没有本机备份；请保持代办点软件运行（每日自动备份），或运行 daiban node backup")
        )
    newest = max(p.stat().st_mtime for p in files)
    age = (now or time.time()) - newest
    if age > BACKUP_MAX_AGE_S:
        return Finding(
            N_("备份"),
            "problem",
            N_("最近一次备份是 %(days)s 天前；请检查代办点软件是否每天运行", days=int(age // 86400)),
        )
    return Finding(N_("备份"), "ok", N_("最近备份于 %(hours)s 小时前", hours=int(age // 3600)))


def check_sync() -> Finding:
    """The queue and the last successful sync."""
    from shared import protocol

    from . import outbox

    pending = outbox.queued_count()
    last_ok = meta.get("last_sync_ok")
    error = meta.get("last_error")
    if last_ok is None:
        return Finding(N_("同步"), "warn", N_("还没有同步成功过；待上传 %(pending)s 条", pending=pending))
    age = (protocol.utcnow() - protocol.parse_iso(last_ok)).total_seconds()
    if age > SYNC_MAX_AGE_S and pending:
        return Finding(
            N_("同步"),
            "problem",
            concatenated(
                [
                    N_("已 %(days)s 天未同步成功，待上传 %(pending)s 条", days=int(age // 86400), pending=pending),
                    *([N_("（最近错误：%(error)s）", error=error)] if error else []),
                    N_("；可用 U 盘导出数据包送交中心"),
                ]
            ),
        )
    return Finding(
        N_("同步"),
        "ok",
        concatenated(
            [
                N_("待上传 %(pending)s 条", pending=pending),
                *([N_("；最近错误：%(error)s", error=error)] if error else []),
            ]
        ),
    )


def run_checks(data_dir: Path, with_network: bool = True) -> list[Finding]:
    """Every check, each isolated so one failure does not hide the others."""
    checks: list[tuple[str, Callable[[], Finding]]] = [
        (N_("数据库"), check_database),
        (N_("密钥"), lambda: check_keys(data_dir)),
        (N_("时钟"), check_clock),
        (N_("磁盘"), lambda: check_disk(data_dir)),
        (N_("数据目录"), lambda: check_storage(data_dir)),
        (N_("备份"), lambda: check_backups(data_dir)),
        (N_("同步"), check_sync),
    ]
    if with_network:
        checks.insert(3, (N_("中心连接"), check_hub))
    return run_isolated(checks, database.connection_context)
