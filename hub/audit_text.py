"""The audit log as sentences in Chinese, for the supervisor's page (the chain itself keeps raw detail).

One sentence per entry: who (a staff member's display name, the village point, or 系统), did what,
to which case or record, with the detail that matters in words (material names, states, reasons),
never `state=accepted missing=['M-INCOME']`. A detail key this module does not know yet is still
shown, under a Chinese name where one is known, so nothing recorded is hidden.
"""

from __future__ import annotations

from typing import Any, Callable

from shared import states
from shared.receipt_codes import format_code

from .audit import ACTION_LABELS
from .catalogue_store import current as current_catalogue
from .models import AuditEntry, Case, Node, Staff, Village

SYSTEM = "系统"
# Who an audit actor is when it is not a staff login: automatic steps and the command line.
NON_STAFF = {"system": SYSTEM, "cli": "管理员（命令行）", "villager": "群众", "node": "代办点", "?": "未登录者"}

ACTION_WORDS = {
    "accept": "受理", "ask_materials": "一次性告知补正", "refuse": "不予受理", "approve": "办结（准予）",
    "deny": "办结（不予批准）", "supplement": "补正材料", "extension_request": "申请延期",
    "extension_decision": "审批延期", "contact": "登记咨询/转办", "correct": "更正登记内容",
}
KEY_LABELS = {
    "reason": "理由", "legal_basis": "依据", "note": "意见", "days": "天数", "kind": "类别", "level": "评价",
    "channel": "渠道", "result": "结果", "decision": "决定", "late": "逾期", "hours": "有效小时",
    "fingerprint": "密钥指纹", "errors": "问题", "code": "原因代码", "action": "操作", "field": "项目",
}
REFUSAL_WORDS = {
    "not_your_window": "不负责该窗口", "terminal_state": "已办结", "case_closed": "已办结",
    "already_accepted": "中心已受理", "forbidden_transition": "当前状态不允许", "materials_missing": "材料不全",
    "second_request": "已一次性告知过", "reason_required": "未写理由", "unknown_case": "没有这个回执码",
    "override_not_allowed": "无权批准再次补正", "inactive_staff": "账号已停用", "not_supervisor": "不是效能监督人员",
    "pending_extension": "已有待批准的延期", "no_clock": "尚未计时", "unchanged": "内容未变",
    "backup_away": "B角也离岗", "self_backup": "不能指定自己", "unknown_staff": "没有这个工作人员",
}


class Names:
    """Display names for the actors and case facts of a page of entries, read with a few queries."""

    def __init__(self, entries: list[AuditEntry]):
        actors = {e.actor for e in entries}
        self.staff = {s.username: s.name for s in Staff.select(Staff.username, Staff.name)
                      .where(Staff.username.in_(list(actors) or [""]))}
        self.nodes = {n.node_id: n.village.name for n in Node.select(Node, Village).join(Village)
                      .where(Node.node_id.in_(list(actors) or [""]))}
        targets = {e.target for e in entries if e.action.startswith("case.")}
        self.cases = {c.receipt_code: c for c in Case.select(Case.receipt_code, Case.item_code)
                      .where(Case.receipt_code.in_(list(targets) or [""]))}
        self.catalogue = current_catalogue()

    def actor(self, actor: str) -> str:
        """A staff member's display name, a village point, 系统; else the name as recorded (a clerk's own name)."""
        if actor in self.staff:
            return self.staff[actor]
        if actor in self.nodes:
            return f"{self.nodes[actor]}代办点"
        return NON_STAFF.get(actor, actor)

    def person(self, username: Any) -> str:
        return self.staff.get(str(username), str(username)) if username else "无人"

    def materials(self, code: str, materials: Any) -> str:
        case = self.cases.get(code)
        codes = [str(m) for m in materials or []]
        names = self.catalogue.material_names(case.item_code, codes) if case is not None else codes
        return "、".join(names)


def _code(target: str) -> str:
    return format_code(target) if target and target != "-" else "（未关联回执码）"


def _case_action(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    verb = ACTION_LABELS.get(e.action, e.action)
    text = f"对回执码 {_code(e.target)} 的申请{verb}"
    if d.get("state"):
        text += f"，状态为“{states.label(str(d['state']))}”"
    if d.get("missing"):
        text += f"，缺：{n.materials(e.target, d['missing'])}"
    return text


def _refused(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    what = ACTION_WORDS.get(str(d.get("action")), str(d.get("action") or "操作"))
    why = REFUSAL_WORDS.get(str(d.get("code")), str(d.get("code") or ""))
    return f"试图对回执码 {_code(e.target)} 的申请{what}，被拒绝（{why}），未做任何更改"


def _duty(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    if d.get("on_duty"):
        return f"把{n.person(e.target)}设为在岗" + (f"，接手无人负责的 {d['took_over']} 件" if d.get("took_over") else "")
    text = f"把{n.person(e.target)}设为离岗"
    if d.get("backup"):
        text += f"（AB角），{d.get('handed', 0)} 件在办申请交B角{n.person(d['backup'])}承办"
    elif d.get("kept"):
        text += f"，未指定B角，{d['kept']} 件在办申请仍由其承办"
    return text


SENTENCES: dict[str, Callable[[AuditEntry, Names, dict[str, Any]], str]] = {
    "auth.login": lambda e, n, d: f"登录（来自 {e.target}）",
    "auth.login_failed": lambda e, n, d: f"以用户名“{e.actor}”登录失败（来自 {e.target}）",
    "auth.logout": lambda e, n, d: "退出登录",
    "case.accept": _case_action, "case.ask_materials": _case_action, "case.refuse": _case_action,
    "case.approve": _case_action, "case.deny": _case_action,
    "case.refused_attempt": _refused,
    "case.reassign": lambda e, n, d: (f"把回执码 {_code(e.target)} 的申请从{n.person(d.get('from'))}改派给"
                                      f"{n.person(d.get('to'))}"),
    "case.corrected": lambda e, n, d: (f"更正回执码 {_code(e.target)} 的{d.get('label') or d.get('field')}："
                                       f"“{d.get('old', '')}”改为“{d.get('value', '')}”"),
    "case.materials_override": lambda e, n, d: f"批准对回执码 {_code(e.target)} 的申请第 {d.get('ask_number')} 次补正",
    "case.extension_requested": lambda e, n, d: f"为回执码 {_code(e.target)} 的申请申请延期 {d.get('days')} 个工作日",
    "case.extension_approved": lambda e, n, d: (f"批准回执码 {_code(e.target)} 的申请延期 {d.get('days')} 个工作日，"
                                                f"办结期限改为 {d.get('new_deadline')}"),
    "case.extension_rejected": lambda e, n, d: f"不批准回执码 {_code(e.target)} 的申请延期",
    "staff.duty": lambda e, n, d: _duty(e, n, d),
    "staff.backup_set": lambda e, n, d: (f"为{n.person(e.target)}指定B角：{n.person(d.get('backup'))}" if d.get("backup")
                                         else f"取消{n.person(e.target)}的B角"),
    "staff.refused_attempt": lambda e, n, d: (f"试图{'指定B角' if d.get('action') == 'backup' else '修改在岗状态'}"
                                              f"（{n.person(e.target)}），被拒绝（{REFUSAL_WORDS.get(str(d.get('code')), d.get('code'))}），"
                                              "未做任何更改"),
    "staff.created": lambda e, n, d: f"新建账号 {e.target}",
    "staff.password_set": lambda e, n, d: f"重设 {n.person(e.target)} 的密码",
    "staff.disabled": lambda e, n, d: f"停用 {n.person(e.target)} 的账号",
    "staff.enabled": lambda e, n, d: f"启用 {n.person(e.target)} 的账号",
    "sync.batch": lambda e, n, d: (f"上传第 {d.get('first_seq')}–{d.get('last_seq')} 条记录，中心接收 "
                                   f"{d.get('accepted', 0)} 条" + (f"、退回 {d['refused']} 条" if d.get("refused") else "")),
}


def _extra(d: dict[str, Any], used: set[str]) -> str:
    parts = [f"{KEY_LABELS.get(k, k)}：{v}" for k, v in d.items()
             if k not in used and k in KEY_LABELS and v not in (None, "", [], {})]
    return "；".join(parts)


# Keys each sentence already tells (others that have a Chinese name are added after it).
_TOLD = {"state", "missing", "from", "to", "on_duty", "took_over", "field", "label", "old", "value", "ask_number",
         "days", "new_deadline", "first_seq", "last_seq", "accepted", "refused", "batch_hash", "id", "backup",
         "handed", "kept", "by", "action", "code"}


def sentence(entry: AuditEntry, names: Names) -> str:
    """One entry as a Chinese sentence: who did what, with its reason and detail in words."""
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    build = SENTENCES.get(entry.action)
    if build is not None:
        body = build(entry, names, detail)
    else:
        body = ACTION_LABELS.get(entry.action, entry.action) + (f"：{entry.target}" if entry.target else "")
    extra = _extra(detail, _TOLD if build is not None else set())
    return f"{names.actor(entry.actor)}{body}" + (f"；{extra}" if extra else "") + "。"


def sentences(entries: list[AuditEntry]) -> list[tuple[AuditEntry, str]]:
    """Each entry beside its sentence."""
    names = Names(entries)
    return [(e, sentence(e, names)) for e in entries]
