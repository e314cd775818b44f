"""Hub decisions at the village: the needs-attention list, printable notices, marking as seen."""

from __future__ import annotations

import re

from node.models import Request
from tests.node.hubupdates import hub_decides
from tests.node.test_capture_views import capture


def test_accepted_shows_in_attention_and_prints_acceptance_notice(clerk) -> None:
    req = hub_decides(capture(clerk), "accept", "accepted", deadline="2026-12-24")
    assert req.receipt_code in clerk.client.get("/attention").get_data(as_text=True)
    html = clerk.client.get(f"/requests/{req.receipt_code}/hub-notice").get_data(as_text=True)
    assert "受理通知单" in html
    assert re.search(r'id="deadline">2026-12-24<', html)


def test_ask_materials_prints_one_time_notice_from_hub(clerk) -> None:
    req = hub_decides(
        capture(clerk),
        "ask_materials",
        "needs_materials",
        missing=["M-GROUP-MINUTES"],
        missing_names=["村民小组会议记录"],
        note="会议记录须有签字",
    )
    html = clerk.client.get(f"/requests/{req.receipt_code}/hub-notice").get_data(as_text=True)
    assert "一次性告知单" in html
    assert "村民小组会议记录" in html
    assert "会议记录须有签字" in html


def test_refusal_prints_reason_and_legal_basis(clerk) -> None:
    req = hub_decides(
        capture(clerk), "refuse", "refused", reason="申请地块为基本农田", legal_basis="《土地管理法》第三十七条"
    )
    html = clerk.client.get(f"/requests/{req.receipt_code}/hub-notice?paper=a4").get_data(as_text=True)
    assert "不予受理告知书" in html
    assert "申请地块为基本农田" in html
    assert "《土地管理法》第三十七条" in html
    assert "print-a4.css" in html


def test_approval_prints_pickup_notice(clerk) -> None:
    req = hub_decides(capture(clerk), "accept", "accepted", deadline="2026-12-24")
    req = hub_decides(req, "approve", "approved", deadline="2026-12-24")
    html = clerk.client.get(f"/requests/{req.receipt_code}/hub-notice").get_data(as_text=True)
    assert "办结通知（请来领取）" in html
    assert "领取" in html


def test_mark_seen_clears_attention(clerk) -> None:
    req = hub_decides(capture(clerk), "accept", "accepted", deadline="2026-12-24")
    clerk.post(f"/requests/{req.receipt_code}/seen", {}, page="/attention")
    assert not Request.get_by_id(req.request_id).needs_attention
    assert f'/requests/{req.receipt_code}"' not in clerk.client.get("/attention").get_data(as_text=True)
