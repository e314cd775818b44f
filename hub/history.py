"""A case's history on the console: the village's events and the hub's steps, in one list in time order.

Who acted is a person's display name, the clerk's name as the village recorded it, or 系统 for a
step nobody took by hand (routing, a supplement arriving, a holiday moving a deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from shared import china_time, corrections, states
from shared.catalogue import Catalogue
from shared.i18n import tr
from shared.msgid import N_

from .models import Case, HubEvent, NodeEvent

SYSTEM = N_("系统")
NODE_EVENT_WORDS = {
    "request.captured": N_("收件"),
    "request.supplemented": N_("补正材料送达"),
    "request.feedback": N_("满意度反馈"),
    "request.withdrawn": N_("撤回"),
    "attachment.added": N_("附件"),
    "request.corrected": N_("代办员更正登记内容"),
}
HUB_ACTION_WORDS = {
    "received": N_("接收并分派"),
    "supplemented": N_("补正材料到达，材料齐全，开始/恢复计时"),
    "reassigned": N_("改派承办人"),
    "withdrawn": N_("撤回"),
    "deadline_moved": N_("节假日调整，办结期限顺延"),
}


@dataclass(frozen=True)
class Row:
    """One line of the history."""

    at: Any  # a datetime (hub) or the node's ISO text; shown through china_time.beijing_time
    source: str  # 代办点 | 中心
    what: str
    who: str


def _correction(body: dict[str, Any], by_clerk: bool = False) -> str:
    field = tr(str(body.get("field_label") or body.get("field") or ""))
    values = {
        "field": field,
        "old": body.get("old", ""),
        "value": body.get("value", ""),
        "reason": body.get("reason", ""),
    }
    if by_clerk:
        return _("代办员更正%(field)s：“%(old)s”改为“%(value)s”；原因：%(reason)s", **values)
    return _("更正%(field)s：“%(old)s”改为“%(value)s”；原因：%(reason)s", **values)


def _node_row(e: NodeEvent, case: Case, catalogue: Catalogue) -> Row:
    body = e.body or {}
    what = tr(NODE_EVENT_WORDS.get(e.type, e.type))
    if e.type == "request.corrected":
        data = body.get("data") or {}
        what = _correction(
            {**data, "field_label": corrections.label(catalogue, case.item_code, str(data.get("field")))}, by_clerk=True
        )
    if e.result != "ok":
        what += _("（中心未接收：%(reason)s）", reason=e.reason)
    return Row(body.get("at", ""), _("代办点"), what, str(body.get("clerk") or "") or tr(SYSTEM))


def _hub_what(body: dict[str, Any], type_: str) -> str:
    action = body.get("action")
    if type_ == "case.corrected":
        return _correction(body)
    if action == "supplemented" and body.get("complete") is False:
        what = _(
            "补正材料到达（尚缺：%(missing_names)s，继续不计时）",
            missing_names="、".join(body.get("missing_names") or []),
        )
    elif action == "ask_materials" and body.get("override_reason"):
        what = _("再次补正（效能监督批准：%(override_reason)s）", override_reason=body["override_reason"])
    elif action == "extended":
        what = _(
            "批准延期 %(extension_days)s 个工作日，办结期限改为 %(deadline)s",
            extension_days=body.get("extension_days"),
            deadline=body.get("deadline"),
        )
    else:
        what = tr(HUB_ACTION_WORDS.get(str(action)) or states.ACTION_LABELS.get(str(action))) or type_
    if body.get("state"):
        what += f" → {tr(states.label(body['state']))}"
    return what


def _hub_row(e: HubEvent, names: dict[str, str]) -> Row:
    body = e.body or {}
    what = _hub_what(body, e.type)
    if body.get("action") == "reassigned":
        before = names.get(body.get("previous_assignee") or "", body.get("previous_assignee") or _("无人"))
        after = names.get(body.get("assignee") or "", body.get("assignee") or _("无人"))
        what += _("：%(_)s → %(assignee)s", _=before, assignee=after)
    if e.type != "case.corrected":
        if body.get("reason"):
            what += _("；理由：%(reason)s", reason=body["reason"])
        if body.get("legal_basis"):
            what += _("；依据：%(legal_basis)s", legal_basis=body["legal_basis"])
        if body.get("note"):
            what += _("；%(note)s", note=body["note"])
    who = names.get(e.actor) or str(body.get("actor_name") or "") or tr(SYSTEM)
    return Row(e.at, _("中心"), what, who)


def rows(
    case: Case, node_events: list[NodeEvent], hub_events: list[HubEvent], names: dict[str, str], catalogue: Catalogue
) -> list[Row]:
    """Every event of the case from both sides, oldest first (ties: the village's event first)."""
    out = [(_node_row(e, case, catalogue), 0, e.seq) for e in node_events] + [
        (_hub_row(e, names), 1, e.cseq) for e in hub_events
    ]
    out.sort(key=lambda r: (_moment(r[0].at), r[1], r[2]))
    return [r[0] for r in out]


def _moment(at: Any) -> datetime:
    return china_time.sort_key(at)
