"""Issue 18, "in the reader's words" and "day one": each screen in Debian's Chromium at its reader's viewport.

One real hub and one real node (processes over HTTP) serve every test here: the villager's phone
(375×667, JavaScript off), the clerk's node (1024×768) and the centre's console (1366×768).
Screenshots go to var/screenshots/ (`make screenshots`: docs/screenshots/) as words-*.png.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
import requests

from tests import support
from tests.factories import capture

SHOTS = support.SCREENSHOTS
PASSWORD = "words-pass-2026"
PHONE_B = "13912345678"
NOTES_B = "申请人周三下午再来，电话先联系"
REASON = "缺少独生子女父母光荣证，请补齐后重新申请"
NODE = {"width": 1024, "height": 768}
HUB = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 667}

# One worker runs the whole module in a parallel run (tests/conftest.py ONE_WORKER_MODULES).
pytestmark = pytest.mark.browser


def _capture(node: support.Service, token: str, item: str, **applicant: str) -> str:
    body = capture(item)
    body["applicant"].update(applicant)
    if item == "JF-01":
        body["notes"] = NOTES_B
    resp = requests.post(
        f"{node.url}/api/v1/requests", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["receipt_code"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A hub with staff 王科员 (wang) and supervisor 陈督查 (chen); a node with clerk li; two requests decided."""
    tmp = tmp_path_factory.mktemp("words")
    hub = support.make_hub(tmp)
    hub.cli("add-user", "chen", "--name", "陈督查", "--role", "supervisor", "--password", PASSWORD)
    hub.cli("add-user", "wang", "--name", "王科员", "--windows", "W09,W10", "--password", PASSWORD)
    hub.start()
    # Enrol by hand (as support.make_node does) to keep what the clerk is told to compare.
    node = support.Service("node", tmp / "node", support.free_port(), extra=["--no-sync"])
    node.data_dir.mkdir(parents=True)
    token = re.search(r"API token: (\S+)", node.cli("init").stdout).group(1)  # type: ignore[union-attr]
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    enrolled = node.cli("enroll", "--hub", hub.url, "--code", code).stdout
    fingerprint = re.search(r"中心密钥指纹：([0-9A-F-]{19})", enrolled).group(1)  # type: ignore[union-attr]
    node.cli("add-clerk", "li", "--name", "李文书", "--password", PASSWORD)
    node.start()
    try:
        refused = _capture(node, token, "FP-02")
        accepted = _capture(node, token, "JF-01", phone=PHONE_B)
        node.cli("sync")
        hub.cli("act", refused, "refuse", "--actor", "wang", "--reason", REASON, "--basis", "省人口与计划生育条例")
        hub.cli("act", accepted, "accept", "--actor", "wang")
        node.cli("sync")
        with support.chromium() as browser:
            yield {
                "hub": hub,
                "node": node,
                "browser": browser,
                "refused": refused,
                "accepted": accepted,
                "fingerprint": fingerprint,
            }
    finally:
        node.stop()
        hub.stop()


def _hub_login(world: dict[str, Any], user: str) -> Any:
    page = world["browser"].new_page(viewport=HUB, locale="zh-CN")
    support.log_in(page, world["hub"].url, user, PASSWORD)
    page.wait_for_load_state()
    assert "退出" in page.inner_text("header.top")
    return page


def _node_login(world: dict[str, Any]) -> Any:
    page = world["browser"].new_page(viewport=NODE, locale="zh-CN")
    support.log_in(page, world["node"].url, "li", PASSWORD)
    page.wait_for_url(world["node"].url + "/")
    return page


def _pretty(code: str) -> str:
    return f"{code[:3]}-{code[3:6]}-{code[6:]}"


def test_public_status_says_why_and_what_next(world: dict[str, Any]) -> None:
    """不予受理 on the hub's and the node's public page: the reason, where to apply again, 复议/诉讼 and by when."""
    code = world["refused"]
    context = world["browser"].new_context(viewport=PHONE, java_script_enabled=False, locale="zh-CN")
    phone = context.new_page()
    phone.goto(f"{world['hub'].url}/status?code={_pretty(code)}&tail=8000")
    assert phone.inner_text("dd.state") == "不予受理"
    assert REASON in phone.inner_text("#reason")
    steps = phone.inner_text("#next-steps")
    assert "接下来可以怎么办" in steps
    assert "重新申请" in steps
    assert "计划生育窗口" in steps
    assert re.search(r"60 日内（\d{4}年\d{1,2}月\d{1,2}日前）申请行政复议", steps), steps
    assert re.search(r"6 个月内（\d{4}年\d{1,2}月\d{1,2}日前）向人民法院提起行政诉讼", steps), steps
    phone.screenshot(path=str(SHOTS / "words-hub-status-denied.png"), full_page=True)

    phone.goto(f"{world['node'].url}/status")
    phone.fill("#code", code)
    phone.fill("#tail", "8000")
    phone.click("button[type=submit]")
    assert phone.inner_text("#state") == "不予受理"
    assert REASON in phone.inner_text("#reason")
    steps = phone.inner_text("#next-steps")
    assert "行政复议" in steps
    assert "60 日内" in steps
    assert "6 个月内" in steps
    assert "村代办点" in steps
    phone.screenshot(path=str(SHOTS / "words-node-status-denied.png"), full_page=True)

    # An open request has no decision to contest: no such section.
    phone.goto(f"{world['hub'].url}/status?code={world['accepted']}&tail=5678")
    assert phone.inner_text("dd.state") == "已受理"
    assert phone.locator("#next-steps").count() == 0
    context.close()


def test_hub_login_is_styled_and_fingerprint_is_on_fleet_and_code_pages(world: dict[str, Any]) -> None:
    page = world["browser"].new_page(viewport=HUB, locale="zh-CN")
    page.goto(world["hub"].url + "/login")
    card = page.locator(".login-page")
    assert card.is_visible()
    assert page.eval_on_selector(".login button", "b => getComputedStyle(b).backgroundColor") == "rgb(139, 26, 26)"
    box, field = card.bounding_box(), page.locator("input[name=username]").bounding_box()
    assert box
    assert field
    assert box["x"] > 300
    assert field["width"] > box["width"] * 0.8  # a centred card, wide fields
    page.screenshot(path=str(SHOTS / "words-hub-login.png"))
    page.close()

    page = _hub_login(world, "chen")
    page.goto(world["hub"].url + "/fleet/")
    assert page.inner_text("#hub-fingerprint") == world["fingerprint"]
    page.fill("form.enrol input[name=village]", "杏花村")
    page.click("form.enrol button[type=submit]")
    assert page.inner_text("#enrol-code").strip()
    assert page.inner_text("#enrol-fingerprint") == world["fingerprint"]
    page.screenshot(path=str(SHOTS / "words-hub-enrol-code.png"), full_page=True)
    page.close()


def test_capture_error_focuses_first_wrong_field(world: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = _node_login(world)
    page.goto(world["node"].url + "/capture/JF-01")
    expect(page.locator("[name='applicant.name']")).to_be_focused()
    page.fill("[name='applicant.name']", "王建国")
    page.fill("[name='applicant.id_number']", "430102198506150")  # too short
    page.fill("[name='applicant.phone']", "123")  # also wrong, but later in the form
    page.click("button[value=send]")
    expect(page.locator("p.error[role=alert]")).to_contain_text("未保存任何内容")
    expect(page.locator("[name='applicant.id_number']")).to_be_focused()
    page.screenshot(path=str(SHOTS / "words-capture-error-focus.png"), full_page=True)

    page.fill("[name='applicant.id_number']", "43010219850615001X")
    page.click("button[value=send]")
    expect(page.locator("[name='applicant.phone']")).to_be_focused()
    assert page.input_value("[name='applicant.name']") == "王建国"
    page.close()


def test_node_search_by_phone_and_part_of_code(world: dict[str, Any]) -> None:
    page = _node_login(world)
    code, other = world["accepted"], world["refused"]
    for query in ("139 1234 5678", code[2:6], code[:5].lower(), code[-4:]):
        page.goto(f"{world['node'].url}/?q={query}")
        listed = page.inner_text("main")
        assert _pretty(code) in listed or code in listed, query
        if query.startswith("139"):
            assert _pretty(other) not in listed
            assert other not in listed
    page.goto(f"{world['node'].url}/?q={PHONE_B}")
    page.screenshot(path=str(SHOTS / "words-node-search-phone.png"), full_page=True)
    page.close()


def test_node_request_page_shows_notes_and_names_in_history(world: dict[str, Any]) -> None:
    page = _node_login(world)
    page.goto(f"{world['node'].url}/requests/{world['accepted']}")
    assert page.inner_text("#clerk-notes") == NOTES_B
    page.goto(f"{world['node'].url}/requests/{world['refused']}")
    history = page.inner_text("table.timeline")
    assert "王科员" in history
    assert "系统" in history
    assert "wang" not in history
    rows = page.locator("table.timeline tbody tr")
    received = rows.filter(has_text="已接收").first.inner_text()
    assert "系统" in received
    assert "王科员" not in received
    page.screenshot(path=str(SHOTS / "words-node-history.png"), full_page=True)
    page.close()


def test_supervision_charts_name_windows(world: dict[str, Any]) -> None:
    page = _hub_login(world, "chen")
    page.goto(world["hub"].url + "/supervision/?by=window")
    labels = " ".join(page.locator("svg.chart").nth(i).inner_html() for i in range(2))
    assert "计划生育" in labels
    assert "国土与城建" in labels
    assert not re.search(r">\s*W\d\d", labels), "window codes on the charts"
    page.screenshot(path=str(SHOTS / "words-supervision-charts.png"), full_page=True)
    page.close()


def test_register_readable_at_1366(world: dict[str, Any]) -> None:
    page = _hub_login(world, "wang")
    page.goto(world["hub"].url + "/console/register")
    assert _pretty(world["accepted"]) in page.inner_text("table.register") or world["accepted"] in page.inner_text(
        "table.register"
    )
    width = page.eval_on_selector("table.register", "t => t.getBoundingClientRect().right")
    assert width <= HUB["width"]
    # Every code, name and date cell stays on one line: its text draws as a single line box.
    wrapped = page.eval_on_selector_all(
        "table.register tbody td:not(.c-item)",
        """cells => cells.filter(c => c.textContent.trim()).filter(c => {
               const r = document.createRange(); r.selectNodeContents(c);
               const tops = new Set([...r.getClientRects()].map(b => Math.round(b.top)));
               return tops.size > 1; }).map(c => c.className + ':' + c.textContent)""",
    )
    assert wrapped == []
    page.screenshot(path=str(SHOTS / "words-hub-register-1366.png"), full_page=True)
    page.close()
