"""A case's history on the console: the village's events and the hub's steps, in one list in time order.

Who acted is a person's display name, the clerk's name as the village recorded it, or 系统 for a
step nobody took by hand (routing, a supplement arriving, a holiday moving a deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import corrections, states, timefmt
from shared.catalogue import Catalogue

from .models import Case, HubEvent, NodeEvent

SYSTEM = "系统"
NODE_EVENT_WORDS = {
    "request.captured": "收件", "request.supplemented": "补正材料送达", "request.feedback": "满意度反馈",
    "request.withdrawn": "撤回", "attachment.added": "附件", "request.corrected": "代办员更正登记内容",
}
HUB_ACTION_WORDS = {
    "received": "接收并分派", "supplemented": "补正材料到达，材料齐全，开始/恢复计时", "reassigned": "改派承办人",
    "withdrawn": "撤回", "deadline_moved": "节假日调整，办结期限顺延",
}


@dataclass(frozen=True)
class Row:
    """One line of the history."""

    at: Any  # a datetime (hub) or the node's ISO text; shown through timefmt.beijing_time
    source: str  # 代办点 | 中心
    what: str
    who: str


def _correction(body: dict[str, Any]) -> str:
    return (f"更正{body.get('field_label') or body.get('field')}：“{body.get('old', '')}”改为“{body.get('value', '')}”；"
            f"原因：{body.get('reason', '')}")


def _node_row(e: NodeEvent, case: Case, catalogue: Catalogue) -> Row:
    body = e.body or {}
    what = NODE_EVENT_WORDS.get(e.type, e.type)
    if e.type == "request.corrected":
        data = body.get("data") or {}
        what = "代办员" + _correction({**data, "field_label": corrections.label(catalogue, case.item_code,
                                                                               str(data.get("field")))})
    if e.result != "ok":
        what += f"（中心未接收：{e.reason}）"
    return Row(body.get("at", ""), "代办点", what, str(body.get("clerk") or "") or SYSTEM)


def _hub_what(body: dict[str, Any], type_: str) -> str:
    action = body.get("action")
    if type_ == "case.corrected":
        return _correction(body)
    if action == "supplemented" and body.get("complete") is False:
        what = f"补正材料到达（尚缺：{'、'.join(body.get('missing_names') or [])}，继续不计时）"
    elif action == "ask_materials" and body.get("override_reason"):
        what = f"再次补正（效能监督批准：{body['override_reason']}）"
    elif action == "extended":
        what = f"批准延期 {body.get('extension_days')} 个工作日，办结期限改为 {body.get('deadline')}"
    else:
        what = HUB_ACTION_WORDS.get(str(action)) or states.ACTION_LABELS.get(str(action)) or type_
    if body.get("state"):
        what += f" → {states.label(body['state'])}"
    return what


def _hub_row(e: HubEvent, names: dict[str, str]) -> Row:
    body = e.body or {}
    what = _hub_what(body, e.type)
    if body.get("action") == "reassigned":
        before = names.get(body.get("previous_assignee") or "", body.get("previous_assignee") or "无人")
        what += f"：{before} → {names.get(body.get('assignee') or '', body.get('assignee') or '无人')}"
    if e.type != "case.corrected":
        what += "".join(f"；{label}：{body[key]}" for key, label in (("reason", "理由"), ("legal_basis", "依据"))
                        if body.get(key))
        if body.get("note"):
            what += f"；{body['note']}"
    who = names.get(e.actor) or str(body.get("actor_name") or "") or SYSTEM
    return Row(e.at, "中心", what, who)


def rows(case: Case, node_events: list[NodeEvent], hub_events: list[HubEvent], names: dict[str, str],
         catalogue: Catalogue) -> list[Row]:
    """Every event of the case from both sides, oldest first (ties: the village's event first)."""
    out = [(_node_row(e, case, catalogue), 0, e.seq) for e in node_events] + [(_hub_row(e, names), 1, e.cseq) for e in hub_events]
    out.sort(key=lambda r: (_moment(r[0].at), r[1], r[2]))
    return [r[0] for r in out]


def _moment(at: Any) -> datetime:
    return timefmt.sort_key(at)
