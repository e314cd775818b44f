"""Notices name the matter once: “农村最低生活保障申请”, never 申请申请 (issue 18)."""

from __future__ import annotations

from shared.papers import document


def test_an_item_named_as_an_application_is_not_called_an_application_twice() -> None:
    facts = {
        "action": "ask_materials",
        "item_name": "农村最低生活保障申请",
        "village": "桃源村",
        "code": "TY1",
        "received_at": "2026-11-02 10:00",
        "missing": [{"name": "户口簿"}],
        "limit_days": 30,
    }
    text = document(facts, 1)["paragraphs"][0]
    assert "申请”申请" not in text
    assert "申请申请" not in text
    assert "提交的“农村最低生活保障申请”（回执码 TY1）" in text
    facts["item_name"] = "宅基地审批"
    assert "提交的“宅基地审批”申请（回执码 TY1）" in document(facts, 1)["paragraphs"][0]
