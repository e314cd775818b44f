"""The text of every notice the centre issues, written once so the hub and the village print the same document.

The hub freezes a notice's facts into the downstream log entry of the action that issued it
(``body["paper"]``); the hub console and the village node both render ``document(facts, cseq)``.
Same facts, same function: same text, officer, document number and appeal rights.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.msgid import N_

TITLES: dict[str, str] = {
    "accept": "事项受理通知单",
    "ask_materials": "一次性告知单（补正材料）",
    "refuse": "不予受理告知书",
    "approve": "办结通知",
    "deny": "办结通知",
    "extended": "延期办理告知书",
}

DEFAULT_ISSUER = "××镇人民政府"
DEFAULT_REVIEW_BODY = "××县人民政府"


def paper_number(receipt_code: str, cseq: int) -> str:
    """A stable document number: receipt code and the entry's place in the village's log."""
    return f"{receipt_code}-{cseq:04d}"


def cn_date(text: str | date | None) -> str:
    """2026-12-03 as 2026年12月3日 (empty for nothing)."""
    if not text:
        return ""
    d = text if isinstance(text, date) else date.fromisoformat(str(text)[:10])
    return f"{d.year}年{d.month}月{d.day}日"


def application(item_name: str) -> str:
    """“农村最低生活保障申请” as it is, “宅基地审批” as “宅基地审批”申请: never 申请申请."""
    # Marked, so a sentence that names the application can be said again in English (shared.msgid).
    return N_("“%(item)s”", item=item_name) if item_name.endswith("申请") else N_("“%(item)s”申请", item=item_name)


def _rights(facts: dict[str, Any], what: str) -> str:
    body = facts.get("review_body") or DEFAULT_REVIEW_BODY
    return (
        f"如对本{what}不服，可自收到本{what}之日起六十日内向{body}申请行政复议，"
        f"或者自收到之日起六个月内依法向人民法院提起行政诉讼。"
    )


def document(facts: dict[str, Any], cseq: int) -> dict[str, Any]:
    """The notice as title, number, paragraphs, a facts table, a list, and the issuer's block."""
    action = facts.get("action", "")
    item, code = facts.get("item_name", ""), facts.get("code", "")
    village = facts.get("village", "")
    # Where the villager handed it in, and where they come back to: their village point, or the counter.
    place = "乡镇政务服务中心窗口" if facts.get("source") == "counter" else f"{village}代办点"
    via = "在" if facts.get("source") == "counter" else "经"
    submitted = f"您于 {facts.get('received_at', '')} {via}{place}提交的{application(item)}（回执码 {code}）"
    paragraphs: list[str] = []
    rows: list[tuple[str, str]] = []
    items: list[str] = []
    closing: list[str] = []
    limit = int(facts.get("limit_days") or 0)
    limit_text = (
        "即办件，受理当日办结"
        if facts.get("immediate")
        else f"受理后 {limit} 个工作日（法定节假日不计，补正期间不计时）"
    )
    if action == "accept":
        if facts.get("materials_complete"):
            paragraphs.append(f"{submitted}，经审查，申请材料齐全、符合法定形式，决定予以受理。")
        else:
            paragraphs.append(f"{submitted}，决定予以受理。")
        rows += [
            ("受理窗口", facts.get("window_name", "")),
            ("受理日期", cn_date(facts.get("issued_on"))),
            ("承诺办结时限", limit_text),
            ("承诺办结日期", f"{cn_date(facts.get('deadline'))}前"),
            ("收费标准", facts.get("fee") or "免费"),
        ]
        closing.append(f"办理结果将通过{place}告知您。您可凭回执码和登记手机号后四位查询办理进度。")
    elif action == "ask_materials":
        paragraphs.append(f"{submitted}，申请材料不齐全。根据一次性告知制度，现将需要补正的全部材料一次性告知如下：")
        items += [f"{m['name']}（{m['note']}）" if m.get("note") else m["name"] for m in facts.get("missing", [])]
        if facts.get("note"):
            items.append(facts["note"])
        closing.append(
            f"请将上述材料一次性交到{place}。补正期间不计时；材料补齐之日受理，"
            f"办理时限自受理之日起计算（{limit_text}）。"
        )
    elif action == "refuse":
        paragraphs.append(f"{submitted}，经审查，决定不予受理。")
        rows += [("不予受理理由", facts.get("reason", "")), ("法律依据", facts.get("legal_basis", ""))]
        closing.append(_rights(facts, "告知书"))
    elif action in ("approve", "deny"):
        paragraphs.append(f"{submitted}，现已办结。")
        rows.append(("办理结果", "准予" if action == "approve" else "不予批准"))
        for label, key in (("理由", "reason"), ("法律依据", "legal_basis"), ("办结意见", "note")):
            if facts.get(key):
                rows.append((label, facts[key]))
        closing.append(f"请携带本人身份证到{place}领取办理结果。" if action == "approve" else _rights(facts, "决定"))
    elif action == "extended":
        paragraphs.append(
            f"{submitted}，因{facts.get('reason', '')}，不能在原定期限内办结，"
            f"经批准延长办理期限 {facts.get('extension_days', '')} 个工作日。"
        )
        rows += [
            ("原办结日期", cn_date(facts.get("old_deadline"))),
            ("延长后办结日期", f"{cn_date(facts.get('deadline'))}前"),
        ]
        closing.append(f"办理结果将通过{place}告知您。")
    return {
        "title": TITLES.get(action, "办理情况通知"),
        "number": paper_number(facts.get("receipt_code", ""), cseq),
        "addressee": facts.get("applicant", ""),
        "paragraphs": paragraphs,
        "rows": rows,
        "lines": items,
        "closing": closing,
        "issuer": facts.get("issuer") or DEFAULT_ISSUER,
        "window_name": facts.get("window_name", ""),
        "officer": facts.get("officer", ""),
        "first_contact": facts.get("first_contact", ""),
        "issued_on": cn_date(facts.get("issued_on")),
    }
