"""What the village screens say about a request must be true (issue 18) and follow the centre's promises (issue 14)."""

from __future__ import annotations

import re
from datetime import timedelta

from node import meta
from node.db import database
from node.models import Event, Request
from shared import protocol
from shared.papers import document
from tests.node.hubupdates import hub_decides
from tests.node.test_capture_views import capture
from tests.support import csrf_of


def page(clerk, req: Request) -> str:
    return clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)


def test_capture_form_ticks_nothing_and_asks_whether_conditional_materials_apply(clerk) -> None:
    html = clerk.client.get("/capture/DB-01").get_data(as_text=True)
    assert 'name="brought"' in html
    assert not re.search(r'name="brought" value="[^"]+" checked', html)
    # 残疾、疾病等困难证明 is conditional ("有重病、残疾的提供"): the clerk says whether it applies.
    assert 'name="applicable" value="M-HARDSHIP-PROOF"' in html


def test_conditional_material_ticked_applicable_and_missing_goes_on_the_notice(clerk) -> None:
    req = capture(clerk, "DB-01", missing=("M-HARDSHIP-PROOF",), applicable="M-HARDSHIP-PROOF")
    assert req.materials_missing == ["M-HARDSHIP-PROOF"]
    assert req.data["submit"] == "awaiting_materials"
    notice = clerk.client.get(f"/requests/{req.receipt_code}/notice").get_data(as_text=True)
    assert "残疾、疾病等困难证明" in re.search(r'id="missing-list">(.*?)</ol>', notice, re.S).group(1)  # type: ignore[union-attr]
    not_applicable = capture(clerk, "DB-01", missing=("M-HARDSHIP-PROOF",))
    assert not_applicable.materials_missing == []
    assert not_applicable.data["submit"] == "submitted"


def test_offline_one_time_notice_says_saved_here_not_yet_sent(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    with database.atomic():
        meta.put("last_error_at", "2026-11-30T01:00:00Z")
    notice = clerk.client.get(f"/requests/{req.receipt_code}/notice").get_data(as_text=True)
    delivery = re.search(r'id="delivery">(.*?)</td>', notice).group(1)  # type: ignore[union-attr]
    assert "已保存在本代办点，尚未送达乡镇中心" in delivery
    assert "最近一次尝试发送" in delivery
    assert "已提交乡镇中心" not in notice
    with database.atomic():
        Event.update(result="ok").where(Event.request_id == req.request_id).execute()
    notice = clerk.client.get(f"/requests/{req.receipt_code}/notice").get_data(as_text=True)
    assert "乡镇中心已收到" in notice


def test_waiting_request_shows_no_deadline_and_no_hub_request_until_the_hub_makes_one(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    # The hub received it with materials missing: 待补正, no clock, its list is the village's own.
    req = hub_decides(
        req,
        "received",
        "needs_materials",
        deadline=None,
        clock="waiting",
        missing=["M-NEIGHBOURS"],
        missing_names=["四邻意见"],
    )
    html = page(clerk, req)
    assert "中心要求补正" not in html
    assert 'id="hub-asked"' not in html
    clock = re.search(r'id="clock">(.*?)</span>', html).group(1)  # type: ignore[union-attr]
    assert "补正期间不计时" in clock
    assert re.search(r"\d{4}-\d\d-\d\d", clock) is None
    assert "四邻意见" in re.search(r'id="still-missing">(.*?)</p>', html).group(1)  # type: ignore[union-attr]
    req = hub_decides(
        req,
        "ask_materials",
        "needs_materials",
        deadline=None,
        missing=["M-NEIGHBOURS", "M-DESIGN"],
        missing_names=["四邻意见", "建房设计图"],
    )
    assert "中心要求补正：四邻意见、建房设计图" in page(clerk, req)


def test_partial_supplement_keeps_the_true_remainder_and_the_notice_button(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS", "M-GROUP-MINUTES"))
    req = hub_decides(
        req,
        "received",
        "needs_materials",
        deadline=None,
        missing=["M-NEIGHBOURS", "M-GROUP-MINUTES"],
        missing_names=["四邻意见", "村民小组会议记录"],
    )
    url = f"/requests/{req.receipt_code}"
    clerk.post(f"{url}/supplement", {"materials": ["M-NEIGHBOURS"]}, page=url)
    html = page(clerk, req)
    assert "尚缺材料：村民小组会议记录" in html
    assert 'id="one-time-notice"' in html
    assert re.search(r"尚缺材料</th><td>村民小组会议记录<", html)
    clerk.post(f"{url}/supplement", {"materials": ["M-GROUP-MINUTES"]}, page=url)
    html = page(clerk, req)
    assert 'id="one-time-notice"' not in html
    assert 'id="still-missing"' not in html


def test_closed_request_shows_no_running_deadline_here_or_on_the_status_page(clerk, node_app) -> None:
    req = capture(clerk)
    req = hub_decides(req, "refuse", "refused", deadline="2026-12-28", reason="不符合条件", legal_basis="某法")
    html = page(clerk, req)
    assert "2026-12-28" not in html
    assert 'id="clock"' not in html
    villager = node_app.test_client()
    token = csrf_of(villager.get("/status").get_data(as_text=True))
    html = villager.post(
        "/status", data={"code": req.receipt_code, "tail": req.phone[-4:], "csrf_token": token}
    ).get_data(as_text=True)
    assert "不予受理" in html
    assert "2026-12-28" not in html
    assert 'id="deadline"' not in html


def test_supplement_for_a_closed_request_is_refused_and_records_nothing(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    req = hub_decides(req, "refuse", "refused", reason="不符合条件", legal_basis="某法")
    url = f"/requests/{req.receipt_code}"
    resp = clerk.post(f"{url}/supplement", {"materials": ["M-NEIGHBOURS"]}, page=url)
    html = clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "办理已终结，不能再补正材料" in html
    assert Event.select().where(Event.type == "request.supplemented").count() == 0
    assert Request.get_by_id(req.request_id).materials_missing == ["M-NEIGHBOURS"]


def test_empty_status_page_claims_nothing(node_app) -> None:
    html = node_app.test_client().get("/status").get_data(as_text=True)
    assert "以上信息截至" not in html


def test_every_page_shows_a_quiet_banner_after_a_failed_sync(clerk) -> None:
    assert 'id="sync-banner"' not in clerk.client.get("/").get_data(as_text=True)
    req = capture(clerk)
    with database.atomic():
        Event.update(at=protocol.iso(protocol.utcnow() - timedelta(days=2))).where(
            Event.request_id == req.request_id
        ).execute()
        meta.put("last_error", "连接超时")
        meta.put("last_error_at", protocol.iso(protocol.utcnow()))
    for path in ("/", "/capture", f"/requests/{req.receipt_code}", "/attention"):
        html = clerk.client.get(path).get_data(as_text=True)
        banner = re.search(r'id="sync-banner"[^>]*>(.*?)</p>', html, re.S)
        assert banner, path
        assert "上次同步未成功" in banner.group(1)
        assert "2 天" in banner.group(1)


def test_hub_notice_printed_here_is_the_hubs_document(clerk) -> None:
    req = capture(clerk)
    facts = {
        "action": "accept",
        "receipt_code": req.receipt_code,
        "code": req.receipt_code,
        "applicant": "王建国",
        "village": "桃源村",
        "item_name": "农村宅基地和建房（规划许可）申请",
        "window_name": "国土与城建",
        "received_at": "2026-11-02 10:00",
        "issuer": "青山镇人民政府",
        "review_body": "青山县人民政府",
        "officer": "王芳",
        "issued_on": "2026-11-03",
        "first_contact": "李文书",
        "limit_days": 20,
        "immediate": False,
        "fee": "免费",
        "deadline": "2026-12-01",
        "materials_complete": True,
        "missing": [],
    }
    req = hub_decides(req, "accept", "accepted", deadline="2026-12-01", paper=facts)
    html = clerk.client.get(f"/requests/{req.receipt_code}/hub-notice").get_data(as_text=True)
    doc = document(facts, 1)
    for text in [doc["title"], doc["number"], *doc["paragraphs"], doc["issuer"], doc["officer"]]:
        assert text in html, text
    assert "申请材料齐全、符合法定形式" in html
    assert "（印章）" in html


def test_request_list_shows_no_deadline_for_a_closed_request(clerk) -> None:
    req = capture(clerk)
    # A node that synced with an older hub may hold a deadline for a closed case: never show it.
    hub_decides(req, "refuse", "refused", deadline="2026-12-28", reason="不符合条件", legal_basis="某法")
    assert "2026-12-28" not in clerk.client.get("/").get_data(as_text=True)
