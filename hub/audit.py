"""The append-only, hash-chained audit log of every staff action and every sync.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any row breaks the chain at that row; `verify()` names it.
Appends are serialised (SQLite's write lock; a transaction-scoped advisory lock on
PostgreSQL) so two workers never claim the same sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from shared import encoding

from .clock import now
from .db import database, is_postgres
from .models import AuditEntry

GENESIS = "0" * 64
# Any fixed number will do: it names the one advisory lock the audit chain uses.
_PG_LOCK_KEY = 0x6461_6962  # "daib"

ACTION_LABELS = {
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "csrf.refused": "表单校验失败（CSRF）",
    "case.accept": "受理",
    "case.ask_materials": "一次性告知补正",
    "case.refuse": "不予受理",
    "case.approve": "办结（准予）",
    "case.deny": "办结（不予批准）",
    "case.refused_attempt": "被拒绝的办件操作",
    "case.reassign": "改派承办人",
    "case.materials_override": "批准再次补正",
    "case.extension_requested": "申请延期",
    "case.extension_approved": "批准延期",
    "case.extension_rejected": "不批准延期",
    "case.contact": "咨询/转办登记",
    "staff.duty": "在岗/离岗",
    "staff.created": "新建账号",
    "staff.password_set": "重设密码",
    "staff.disabled": "停用账号",
    "staff.enabled": "启用账号",
    "sync.batch": "同步批次入库",
    "sync.fork": "同步分叉告警",
    "sync.lost_tail": "中心缺少代办点已确认的记录",
    "sync.resent": "代办点重新上传（中心恢复后）",
    "hub.epoch": "中心数据恢复（新纪元）",
    "node.code_issued": "签发注册码",
    "node.enrolled": "代办点注册",
    "node.revoked": "停用代办点",
    "node.code_refused": "被拒绝的注册码签发",
    "node.enrol_failed": "注册码校验失败（输错或被冒充）",
    "node.fork_resolved": "分叉告警已处理",
    "catalogue.edit": "修改事项目录",
    "catalogue.refused": "被拒绝的目录修改",
    "figures.refused": "被拒绝的统计查询",
    "calendar.edit": "修改节假日",
    "rating.bad": "收到差评",
    "rating.rectified": "差评整改",
    "rating.callback": "差评回访",
    "rating.appeal": "差评申诉",
    "rating.appeal_decided": "差评申诉复核",
    "mailbox.received": "收到信箱留言",
    "mailbox.replied": "答复信箱留言",
    "mailbox.refused_reply": "被拒绝的留言答复",
    "sms.opt_out": "短信退订",
}


def entry_hash(seq: int, at: datetime, actor: str, action: str, target: str, detail: Any, prev_hash: str) -> str:
    """The SHA-256 that seals one entry onto the chain."""
    return encoding.digest(encoding.canonical({
        "seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor, "action": action,
        "target": target, "detail": detail, "prev_hash": prev_hash,
    }))


def record(actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry; call inside the transaction whose change it describes."""
    detail = detail or {}
    actor, target = str(actor or "system")[:64], str(target or "")[:120]
    with database.atomic():
        if is_postgres():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        last = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
        seq = (last.seq + 1) if last else 1
        prev = last.hash if last else GENESIS
        # Stored timestamps keep microseconds on both databases; hash exactly what is stored.
        at = now().replace(tzinfo=None)
        return AuditEntry.create(
            seq=seq, at=at, actor=actor, action=action, target=target, detail=detail, prev_hash=prev,
            hash=entry_hash(seq, at, actor, action, target, detail, prev),
        )


@dataclass(frozen=True)
class Break:
    """The first place the chain does not hold, and why (in Chinese)."""

    seq: int
    reason: str


def _entries() -> Iterator[AuditEntry]:
    return AuditEntry.select().order_by(AuditEntry.seq).iterator()


def verify() -> tuple[int, Break | None]:
    """Walk the chain from the start; return (entries checked, first break or None)."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for e in _entries():
        if e.seq != expected_seq:
            return count, Break(expected_seq, f"第 {expected_seq} 条缺失（下一条是第 {e.seq} 条）")
        if e.prev_hash != prev_hash:
            return count, Break(e.seq, f"第 {e.seq} 条的前一哈希与第 {e.seq - 1} 条不符（记录被删改或重排）")
        if entry_hash(e.seq, e.at, e.actor, e.action, e.target, e.detail, e.prev_hash) != e.hash:
            return count, Break(e.seq, f"第 {e.seq} 条内容与其哈希不符（记录被篡改）")
        prev_hash, expected_seq, count = e.hash, expected_seq + 1, count + 1
    return count, None


def recent(limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    """The newest entries first, optionally of one action."""
    query = AuditEntry.select().order_by(AuditEntry.seq.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(query)
