"""The audit log as sentences (Chinese, or the page's language), for the supervisor's page (the chain itself keeps raw detail).

One sentence per entry: who (a staff member's display name, the village point, or 系统), did what,
to which case or record, with the detail that matters in words (material names, states, reasons),
never `state=accepted missing=['M-INCOME']`. A detail key this module does not know yet is still
shown, under a Chinese name where one is known, so nothing recorded is hidden.
"""

from __future__ import annotations

from typing import Any, Callable

from flask_babel import gettext as _

from shared import states
from shared.i18n import tr
from shared.msgid import N_
from shared.receipt_codes import format_code

from .audit import ACTION_LABELS
from .catalogue_store import current as current_catalogue
from .models import AuditEntry, Case, Node, Staff, Village

SYSTEM = N_("系统")
# Who an audit actor is when it is not a staff login: automatic steps and the command line.
NON_STAFF = {
    "system": SYSTEM,
    "cli": N_("管理员（命令行）"),
    "villager": N_("群众"),
    "node": N_("代办点"),
    "?": N_("未登录者"),
}

ACTION_WORDS = {
    "accept": N_("受理"),
    "ask_materials": N_("一次性告知补正"),
    "refuse": N_("不予受理"),
    "approve": N_("办结（准予）"),
    "deny": N_("办结（不予批准）"),
    "supplement": N_("补正材料"),
    "extension_request": N_("申请延期"),
    "extension_decision": N_("审批延期"),
    "contact": N_("登记咨询/转办"),
    "correct": N_("更正登记内容"),
}
KEY_LABELS = {
    "reason": N_("理由"),
    "legal_basis": N_("依据"),
    "note": N_("意见"),
    "days": N_("天数"),
    "kind": N_("类别"),
    "level": N_("评价"),
    "channel": N_("渠道"),
    "result": N_("结果"),
    "decision": N_("决定"),
    "late": N_("逾期"),
    "hours": N_("有效小时"),
    "fingerprint": N_("密钥指纹"),
    "errors": N_("问题"),
    "code": N_("原因代码"),
    "action": N_("操作"),
    "field": N_("项目"),
}
REFUSAL_WORDS = {
    "not_your_window": N_("不负责该窗口"),
    "terminal_state": N_("已办结"),
    "case_closed": N_("已办结"),
    "already_accepted": N_("中心已受理"),
    "forbidden_transition": N_("当前状态不允许"),
    "materials_missing": N_("材料不全"),
    "second_request": N_("已一次性告知过"),
    "reason_required": N_("未写理由"),
    "unknown_case": N_("没有这个回执码"),
    "override_not_allowed": N_("无权批准再次补正"),
    "inactive_staff": N_("账号已停用"),
    "not_supervisor": N_("不是效能监督人员"),
    "pending_extension": N_("已有待批准的延期"),
    "no_clock": N_("尚未计时"),
    "unchanged": N_("内容未变"),
    "backup_away": N_("B角也离岗"),
    "self_backup": N_("不能指定自己"),
    "unknown_staff": N_("没有这个工作人员"),
}


class Names:
    """Display names for the actors and case facts of a page of entries, read with a few queries."""

    def __init__(self, entries: list[AuditEntry]):
        actors = {e.actor for e in entries}
        self.staff = {
            s.username: s.name
            for s in Staff.select(Staff.username, Staff.name).where(Staff.username.in_(list(actors) or [""]))
        }
        self.nodes = {
            n.node_id: n.village.name
            for n in Node.select(Node, Village).join(Village).where(Node.node_id.in_(list(actors) or [""]))
        }
        targets = {e.target for e in entries if e.action.startswith("case.")}
        self.cases = {
            c.receipt_code: c
            for c in Case.select(Case.receipt_code, Case.item_code).where(Case.receipt_code.in_(list(targets) or [""]))
        }
        self.catalogue = current_catalogue()

    def actor(self, actor: str) -> str:
        """A staff member's display name, a village point, 系统; else the name as recorded (a clerk's own name)."""
        if actor in self.staff:
            return self.staff[actor]
        if actor in self.nodes:
            return _("%(village)s代办点", village=self.nodes[actor])
        return tr(NON_STAFF[actor]) if actor in NON_STAFF else actor

    def person(self, username: Any) -> str:
        return self.staff.get(str(username), str(username)) if username else _("无人")

    def materials(self, code: str, materials: Any) -> str:
        case = self.cases.get(code)
        codes = [str(m) for m in materials or []]
        names = self.catalogue.material_names(case.item_code, codes) if case is not None else codes
        return _("、").join(names)


def _code(target: str) -> str:
    return format_code(target) if target and target != "-" else _("（未关联回执码）")


def _refusal(d: dict[str, Any]) -> str:
    code = str(d.get("code") or "")
    return tr(REFUSAL_WORDS[code]) if code in REFUSAL_WORDS else code


def _case_action(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    verb = tr(ACTION_LABELS.get(e.action, e.action))
    text = _("对回执码 %(code)s 的申请%(verb)s", code=_code(e.target), verb=verb)
    if d.get("state"):
        text += _("，状态为“%(state)s”", state=tr(states.label(str(d["state"]))))
    if d.get("missing"):
        text += _("，缺：%(materials)s", materials=n.materials(e.target, d["missing"]))
    return text


def _refused(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    action = str(d.get("action") or "")
    what = tr(ACTION_WORDS[action]) if action in ACTION_WORDS else (action or _("操作"))
    return _(
        "试图对回执码 %(code)s 的申请%(what)s，被拒绝（%(why)s），未做任何更改",
        code=_code(e.target),
        what=what,
        why=_refusal(d),
    )


def _duty(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    if d.get("on_duty"):
        text = _("把%(person)s设为在岗", person=n.person(e.target))
        return text + (_("，接手无人负责的 %(taken)s 件", taken=d["took_over"]) if d.get("took_over") else "")
    text = _("把%(person)s设为离岗", person=n.person(e.target))
    if d.get("backup"):
        text += _(
            "（AB角），%(handed)s 件在办申请交B角%(backup)s承办",
            handed=d.get("handed", 0),
            backup=n.person(d["backup"]),
        )
    elif d.get("kept"):
        text += _("，未指定B角，%(kept)s 件在办申请仍由其承办", kept=d["kept"])
    return text


def _staff_refused(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    if d.get("action") == "backup":
        return _(
            "试图指定B角（%(person)s），被拒绝（%(why)s），未做任何更改", person=n.person(e.target), why=_refusal(d)
        )
    return _(
        "试图修改在岗状态（%(person)s），被拒绝（%(why)s），未做任何更改", person=n.person(e.target), why=_refusal(d)
    )


def _sync_batch(e: AuditEntry, n: Names, d: dict[str, Any]) -> str:
    text = _(
        "上传第 %(first_seq)s–%(last_seq)s 条记录，中心接收 %(accepted)s 条",
        first_seq=d.get("first_seq"),
        last_seq=d.get("last_seq"),
        accepted=d.get("accepted", 0),
    )
    return text + (_("、退回 %(refused)s 条", refused=d["refused"]) if d.get("refused") else "")


SENTENCES: dict[str, Callable[[AuditEntry, Names, dict[str, Any]], str]] = {
    "auth.login": lambda e, n, d: _("登录（来自 %(address)s）", address=e.target),
    "auth.login_failed": lambda e, n, d: _(
        "以用户名“%(username)s”登录失败（来自 %(address)s）", username=e.actor, address=e.target
    ),
    "auth.logout": lambda e, n, d: _("退出登录"),
    "case.accept": _case_action,
    "case.ask_materials": _case_action,
    "case.refuse": _case_action,
    "case.approve": _case_action,
    "case.deny": _case_action,
    "case.refused_attempt": _refused,
    "case.reassign": lambda e, n, d: _(
        "把回执码 %(code)s 的申请从%(before)s改派给%(after)s",
        code=_code(e.target),
        before=n.person(d.get("from")),
        after=n.person(d.get("to")),
    ),
    "case.corrected": lambda e, n, d: _(
        "更正回执码 %(code)s 的%(field)s：“%(old)s”改为“%(value)s”",
        code=_code(e.target),
        field=tr(str(d.get("label") or d.get("field") or "")),
        old=d.get("old", ""),
        value=d.get("value", ""),
    ),
    "case.materials_override": lambda e, n, d: _(
        "批准对回执码 %(code)s 的申请第 %(number)s 次补正", code=_code(e.target), number=d.get("ask_number")
    ),
    "case.extension_requested": lambda e, n, d: _(
        "为回执码 %(code)s 的申请申请延期 %(days)s 个工作日", code=_code(e.target), days=d.get("days")
    ),
    "case.extension_approved": lambda e, n, d: _(
        "批准回执码 %(code)s 的申请延期 %(days)s 个工作日，办结期限改为 %(deadline)s",
        code=_code(e.target),
        days=d.get("days"),
        deadline=d.get("new_deadline"),
    ),
    "case.extension_rejected": lambda e, n, d: _("不批准回执码 %(code)s 的申请延期", code=_code(e.target)),
    "staff.duty": _duty,
    "staff.backup_set": lambda e, n, d: (
        _("为%(person)s指定B角：%(backup)s", person=n.person(e.target), backup=n.person(d.get("backup")))
        if d.get("backup")
        else _("取消%(person)s的B角", person=n.person(e.target))
    ),
    "staff.refused_attempt": _staff_refused,
    "staff.created": lambda e, n, d: _("新建账号 %(username)s", username=e.target),
    "staff.password_set": lambda e, n, d: _("重设 %(person)s 的密码", person=n.person(e.target)),
    "staff.disabled": lambda e, n, d: _("停用 %(person)s 的账号", person=n.person(e.target)),
    "staff.enabled": lambda e, n, d: _("启用 %(person)s 的账号", person=n.person(e.target)),
    "sync.batch": _sync_batch,
}


def _value(v: Any) -> str:
    # Recorded vocabulary (满意, 咨询...) is shown in the page's language; other values as recorded.
    return tr(v) if isinstance(v, str) else str(v)


def _extra(d: dict[str, Any], used: set[str]) -> str:
    parts = [
        _("%(key)s：%(value)s", key=tr(KEY_LABELS[k]), value=_value(v))
        for k, v in d.items()
        if k not in used and k in KEY_LABELS and v not in (None, "", [], {})
    ]
    return _("；").join(parts)


# Keys each sentence already tells (others that have a Chinese name are added after it).
_TOLD = {
    "state",
    "missing",
    "from",
    "to",
    "on_duty",
    "took_over",
    "field",
    "label",
    "old",
    "value",
    "ask_number",
    "days",
    "new_deadline",
    "first_seq",
    "last_seq",
    "accepted",
    "refused",
    "batch_hash",
    "id",
    "backup",
    "handed",
    "kept",
    "by",
    "action",
    "code",
}


def sentence(entry: AuditEntry, names: Names) -> str:
    """One entry as a sentence in the page's language: who did what, with its reason and detail in words."""
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    build = SENTENCES.get(entry.action)
    if build is not None:
        body = build(entry, names, detail)
    else:
        label = tr(ACTION_LABELS.get(entry.action, entry.action))
        body = _("%(label)s：%(target)s", label=label, target=entry.target) if entry.target else label
    extra = _extra(detail, _TOLD if build is not None else set())
    if extra:
        return _("%(actor)s%(body)s；%(extra)s。", actor=names.actor(entry.actor), body=body, extra=extra)
    return _("%(actor)s%(body)s。", actor=names.actor(entry.actor), body=body)


def sentences(entries: list[AuditEntry]) -> list[tuple[AuditEntry, str]]:
    """Each entry beside its sentence."""
    names = Names(entries)
    return [(e, sentence(e, names)) for e in entries]
