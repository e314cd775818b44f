"""The append-only, hash-chained audit log of every staff action and every sync.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any row breaks the chain at that row; `verify()` names it.
Appends are serialised (SQLite's write lock; a transaction-scoped advisory lock on
PostgreSQL) so two workers never claim the same sequence number.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Sequence

from shared import encoding
from shared.bulk_rows import Encoder, insert_rows

from .clock import now
from .db import compiled, database, is_postgres, json_text
from .models import AuditEntry
from shared.msgid import N_

GENESIS = "0" * 64
# Any fixed number will do: it names the one advisory lock the audit chain uses.
_PG_LOCK_KEY = 0x6461_6962  # "daib"

ACTION_LABELS = {
    "auth.login": N_("登录"),
    "auth.login_failed": N_("登录失败"),
    "auth.logout": N_("退出登录"),
    "csrf.refused": N_("表单校验失败（CSRF）"),
    "case.accept": N_("受理"),
    "case.ask_materials": N_("一次性告知补正"),
    "case.refuse": N_("不予受理"),
    "case.approve": N_("办结（准予）"),
    "case.deny": N_("办结（不予批准）"),
    "case.refused_attempt": N_("被拒绝的办件操作"),
    "case.reassign": N_("改派承办人"),
    "case.materials_override": N_("批准再次补正"),
    "case.extension_requested": N_("申请延期"),
    "case.extension_approved": N_("批准延期"),
    "case.extension_rejected": N_("不批准延期"),
    "case.contact": N_("咨询/转办登记"),
    "case.corrected": N_("更正登记内容"),
    "staff.duty": N_("在岗/离岗"),
    "staff.backup_set": N_("指定B角（AB角）"),
    "staff.refused_attempt": N_("被拒绝的人员操作"),
    "staff.created": N_("新建账号"),
    "staff.password_set": N_("重设密码"),
    "staff.disabled": N_("停用账号"),
    "staff.enabled": N_("启用账号"),
    "sync.batch": N_("同步批次入库"),
    "sync.fork": N_("同步分叉告警"),
    "sync.lost_tail": N_("中心缺少代办点已确认的记录"),
    "sync.resent": N_("代办点重新上传（中心恢复后）"),
    "hub.epoch": N_("中心数据恢复（新纪元）"),
    "node.code_issued": N_("签发注册码"),
    "node.enrolled": N_("代办点注册"),
    "node.revoked": N_("停用代办点"),
    "node.code_refused": N_("被拒绝的注册码签发"),
    "node.enrol_failed": N_("注册码校验失败（输错或被冒充）"),
    "node.fork_resolved": N_("分叉告警已处理"),
    "catalogue.edit": N_("修改事项目录"),
    "catalogue.refused": N_("被拒绝的目录修改"),
    "figures.refused": N_("被拒绝的统计查询"),
    "calendar.edit": N_("修改节假日"),
    "rating.bad": N_("收到差评"),
    "rating.rectified": N_("差评整改"),
    "rating.callback": N_("差评回访"),
    "rating.appeal": N_("差评申诉"),
    "rating.appeal_decided": N_("差评申诉复核"),
    "mailbox.received": N_("收到信箱留言"),
    "mailbox.replied": N_("答复信箱留言"),
    "mailbox.refused_reply": N_("被拒绝的留言答复"),
    "sms.opt_out": N_("短信退订"),
}


def entry_hash(seq: int, at: datetime, actor: str, action: str, target: str, detail: Any, prev_hash: str) -> str:
    """The SHA-256 that seals one entry onto the chain."""
    return _sealed(seq, at.isoformat(timespec="microseconds"), actor, action, target, detail, prev_hash)


def _sealed(seq: int, at: str, actor: str, action: str, target: str, detail: Any, prev_hash: str) -> str:
    """entry_hash of an entry whose time is already written as text (a batch's entries share one)."""
    fields = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    # msgspec writes the same canonical bytes ten times faster for JSON without floats (the detail
    # of a synced batch's duplicate flag: two codes, one per returning villager); a float, anywhere
    # it might be, goes the standard library's way, which alone defines how it is written.
    canonical = encoding.canonical_message if _without_floats(detail) else encoding.canonical
    return encoding.digest(canonical(fields))


_PLAIN = frozenset({str, int, bool, type(None)})
_TEXT = frozenset({str})


def _flat(value: Any) -> bool:
    """True for a dict of text keys whose values are exactly text, integers, booleans or None (a
    duplicate flag's two codes): type by type in C, without a call per key or value."""
    return type(value) is dict and _TEXT.issuperset(map(type, value)) and _PLAIN.issuperset(map(type, value.values()))


def _without_floats(value: Any) -> bool:
    """True for text, integers, booleans and None, and dicts (text keys) and lists of them only."""
    if isinstance(value, (str, int)) or value is None:  # a bool is an int, a Said (shared.msgid) a str
        return True
    if type(value) is dict:
        # A flat detail without a call per value; else value by value.
        return _flat(value) or (_TEXT.issuperset(map(type, value)) and all(map(_without_floats, value.values())))
    if type(value) is list:
        return all(map(_without_floats, value))
    return False


# record_many's rows hold each detail as its column writes it (hub.db.json_text): bound as it is.
_WRITTEN = Encoder(str, keeps=frozenset({str}))


def _written_detail(field: Any) -> Encoder | None:
    return _WRITTEN if field is AuditEntry.detail else None


# The order record_many builds each row in.
_COLUMNS = ("seq", "at", "actor", "action", "target", "detail", "prev_hash", "hash")


def record(actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
    """Append one entry; call inside the transaction whose change it describes."""
    record_many([(actor, action, target, detail)])


def record_many(entries: Sequence[tuple[str, str, str, dict[str, Any] | None]]) -> None:
    """Append (actor, action, target, detail) entries in order, under one lock and one read of the head.

    A synced batch may flag many cases (两头受理): chained here in one go and written by one
    multi-row INSERT, instead of one lock, one head look-up and one INSERT per flag. Call inside
    the transaction whose change the entries describe.
    """
    # A savepoint only when called outside a transaction: inside one (every synced batch) it would
    # cost two round trips for nothing: a failure here is the caller's, raised through its transaction.
    with contextlib.nullcontext() if database.in_transaction() else database.atomic():
        if is_postgres():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        # Compiled once (hub/db.compiled): every synced batch appends an entry.
        sql = compiled(
            ("audit.last",),
            lambda: AuditEntry.select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1),
        )
        last = database.execute_sql(sql, (1,)).fetchone()
        seq = last[0] if last else 0
        prev = last[1] if last else GENESIS
        # Stored timestamps keep microseconds on both databases; hash exactly what is stored.
        at = now().replace(tzinfo=None)
        at_text = at.isoformat(timespec="microseconds")  # entry_hash's, once for all the entries
        rows = []
        for actor, action, target, detail in entries:
            detail = detail or {}
            actor, target = str(actor or "system")[:64], str(target or "")[:120]
            seq += 1
            digest = _sealed(seq, at_text, actor, action, target, detail, prev)
            rows.append((seq, at, actor, action, target, json_text(detail), prev, digest))
            prev = digest
        cursor = database.obj.cursor()
        insert_rows(cursor, AuditEntry, _COLUMNS, rows, mark=database.obj.param, encoder_for=_written_detail)


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
