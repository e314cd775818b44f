"""The villager's status page: masked, tiny, no script, one answer for every miss, rate-limited."""

from __future__ import annotations

import re

from node.models import Event, Request
from shared.receipt_codes import format_code
from tests.node.conftest import csrf_of
from tests.node.hubupdates import hub_decides
from tests.node.test_capture_views import capture


def lookup(client, code: str, tail: str):
    token = csrf_of(client.get("/status").data)
    return client.post("/status", data={"code": code, "tail": tail, "csrf_token": token})


def without_token(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def test_status_shows_masked_request_with_deadline(clerk, node_app) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",), **{"applicant.name": "王建国"})
    hub_decides(req, "accept", "accepted", deadline="2026-12-24")
    villager = node_app.test_client()
    resp = lookup(villager, format_code(req.receipt_code).lower(), "5678")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "王**" in html
    assert "王建国" not in html
    assert req.phone not in html
    assert req.id_number not in html
    assert re.search(r'id="state">已受理<', html)
    assert re.search(r'id="deadline">2026-12-24 前办结<', html)
    assert "农村宅基地和建房（规划许可）申请" in html
    assert "国土与城建" in html
    assert "截至" in html
    assert len(resp.data) < 5 * 1024
    assert "<script" not in html


def test_status_lists_what_is_still_missing(clerk, node_app) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    html = lookup(node_app.test_client(), req.receipt_code, "5678").get_data(as_text=True)
    assert "还需材料" in html
    assert "四邻意见" in html


def test_wrong_phone_tail_looks_like_an_unknown_code(clerk, node_app) -> None:
    req = capture(clerk)
    before = (Request.select().count(), Event.select().count())
    wrong_tail = lookup(node_app.test_client(), req.receipt_code, "0000")
    unknown = lookup(node_app.test_client(), "22A-AAA-AAA", "5678")
    garbage = lookup(node_app.test_client(), "<script>", "abcd")
    assert wrong_tail.status_code == unknown.status_code == garbage.status_code == 200
    assert without_token(wrong_tail.get_data(as_text=True)) == without_token(unknown.get_data(as_text=True))
    assert without_token(garbage.get_data(as_text=True)) == without_token(unknown.get_data(as_text=True))
    assert "未查到" in unknown.get_data(as_text=True)
    assert (Request.select().count(), Event.select().count()) == before


def test_lookups_are_rate_limited_per_address(clerk, node_app) -> None:
    req = capture(clerk)
    villager = node_app.test_client()
    for _ in range(10):
        assert lookup(villager, "22A-AAA-AAA", "5678").status_code == 200
    resp = lookup(villager, req.receipt_code, "5678")
    assert resp.status_code == 429
    assert "查询太频繁" in resp.get_data(as_text=True)
    assert "王**" not in resp.get_data(as_text=True)
    other = node_app.test_client()
    ok = other.post(
        "/status",
        data={"code": req.receipt_code, "tail": "5678", "csrf_token": csrf_of(other.get("/status").data)},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert ok.status_code == 200
    assert "王**" in ok.get_data(as_text=True)


def test_status_needs_no_login_and_is_small(node_app) -> None:
    resp = node_app.test_client().get("/status")
    assert resp.status_code == 200
    assert len(resp.data) < 5 * 1024
    css = node_app.test_client().get("/static/status.css")
    assert len(resp.data) + len(css.data) < 5 * 1024
