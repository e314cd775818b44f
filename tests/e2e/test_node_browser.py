"""The clerk's node in Debian's Chromium against a real hub process, and a node killed after capture."""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from tests import support
from tests.support import csrf_of

PASSWORD = "correct-horse-9"
SCREENSHOTS = support.SCREENSHOTS
ID_NUMBER = "43010219850615001X"


def hub_count(hub: support.Service, sql: str, *args: str) -> int:
    """Read the hub's SQLite file directly (the hub process keeps running)."""
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as db:
        return int(db.execute(sql, args).fetchone()[0])


@pytest.fixture
def village(tmp_path: Path):
    """A running hub and an enrolled node with clerk 李文书 (node not yet started)."""
    hub = support.make_hub(tmp_path).start()
    node, _ = support.make_node(tmp_path, "node", hub, "桃源村")
    node.cli("add-clerk", "li", "--name", "李文书", "--password", PASSWORD)
    yield hub, node
    node.stop()
    hub.stop()


def click_sync_now(page) -> None:
    """Press "sync now" until our own round completes (the background job may be mid-round)."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(page.url.split("/sync")[0] + "/sync")  # a fresh page, so no earlier message is read
        page.click("button:has-text('立即同步')")
        text = page.locator(".flash").first.inner_text()
        if "同步完成" in text:
            return
        assert "后台正在同步" in text, text
        assert time.monotonic() < deadline, text
        page.wait_for_timeout(200)


@pytest.mark.browser
def test_clerk_captures_prints_syncs_and_villager_sees_acceptance(village, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    hub, node = village
    node.start()
    with support.chromium() as browser:
        page = browser.new_page(viewport={"width": 1024, "height": 900})
        kb = page.keyboard

        page.goto(node.url + "/login")
        expect(page.locator("#username")).to_be_focused()
        kb.type("li")
        kb.press("Tab")
        kb.type(PASSWORD)
        kb.press("Enter")
        page.wait_for_url(node.url + "/")

        # Keyboard only: item code box, then the generated form in tab order.
        page.goto(node.url + "/capture")
        expect(page.locator("#item")).to_be_focused()
        kb.type("JF-01")
        kb.press("Enter")
        page.wait_for_url(node.url + "/capture/JF-01")
        expect(page.locator("[name='applicant.name']")).to_be_focused()
        for value in (
            "王建国",
            ID_NUMBER,
            "139 1234 5678",
            "桃源村三组12号",
            "三组",
            "三组，东至张家，西至李家",
            "120",
            "180",
            "2",
        ):
            kb.type(value)
            kb.press("Tab")
        # Tab now walks the materials checklist, nothing ticked by default: tick the first four with
        # Space and leave 四邻意见 (the fifth) unticked.
        for _ in range(4):
            kb.press("Space")
            kb.press("Tab")
        expect(page.locator("input[name=brought][value='M-NEIGHBOURS']")).to_be_focused()
        expect(page.locator("input[name=brought][value='M-NEIGHBOURS']")).not_to_be_checked()
        page.screenshot(path=str(SCREENSHOTS / "capture-form.png"), full_page=True)
        kb.press("Tab")  # 建房设计图 (视情况): not brought
        kb.press("Tab")  # … and not ticked as applying
        kb.press("Tab")  # the villager's consent to SMS: not given
        kb.press("Tab")
        expect(page.locator("#notes")).to_be_focused()
        kb.type("缺四邻意见，已一次性告知")
        kb.press("Enter")
        page.wait_for_url(re.compile(r".*/requests/[A-Z0-9]{9}\?saved=1"))
        code = re.search(r"/requests/([A-Z0-9]{9})", page.url).group(1)  # type: ignore[union-attr]
        pretty = f"{code[:3]}-{code[3:6]}-{code[6:]}"
        expect(page.locator(".flash")).to_contain_text(pretty)

        # One-time notice: every missing material, the procedure and the time limit; prints on A5.
        page.click("text=打印一次性告知单")
        expect(page.locator("#missing-list")).to_have_text(re.compile(r"^\s*四邻意见\s*$"))
        expect(page.locator("#procedure")).to_contain_text("村民小组会议讨论并公示")
        expect(page.locator("#time-limit")).to_contain_text("20 个工作日")
        page.emulate_media(media="print")
        expect(page.locator("header.top")).to_be_hidden()
        assert page.pdf(format="A5", print_background=False)[:4] == b"%PDF"
        page.emulate_media(media="screen")

        # Receipt: only from the stored request, with the code in large type and a QR code to the hub.
        page.goto(f"{node.url}/requests/{code}/receipt")
        expect(page.locator("#receipt-code")).to_have_text(pretty)
        assert page.eval_on_selector("#receipt-code", "e => parseFloat(getComputedStyle(e).fontSize)") >= 30
        expect(page.locator("#received")).to_contain_text("申请书")
        expect(page.locator("#received")).not_to_contain_text("四邻意见")
        body = page.locator("article").inner_text()
        assert "农村宅基地和建房（规划许可）申请" in body
        assert "李文书" in body
        assert f"{hub.url}/status?code={code}" in body
        expect(page.locator(".qr svg")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "receipt.png"), full_page=True)
        page.emulate_media(media="print")
        assert page.pdf(format="A5")[:4] == b"%PDF"
        page.emulate_media(media="screen")

        # Sync now to the real hub; the hub accepts; sync again brings the decision down.
        page.goto(node.url + "/sync")
        click_sync_now(page)
        assert hub_count(hub, 'SELECT count(*) FROM "case" WHERE receipt_code = ?', code) == 1
        # It waits at the centre, unclocked, until the missing material comes: the clerk records it.
        page.goto(f"{node.url}/requests/{code}")
        page.check("form[action$='/supplement'] input[value='M-NEIGHBOURS']")
        page.click("form[action$='/supplement'] button[type=submit]")
        page.goto(node.url + "/sync")
        click_sync_now(page)
        out = hub.cli("act", code, "accept").stdout
        assert "已受理" in out
        click_sync_now(page)
        page.goto(node.url + "/attention")
        expect(page.locator("table.list")).to_contain_text(pretty)

        # The villager, on a small phone, without logging in.
        phone = browser.new_page(viewport={"width": 360, "height": 640})
        phone.goto(node.url + "/status")
        phone.fill("#code", pretty.lower())
        phone.fill("#tail", "5678")
        phone.keyboard.press("Enter")
        expect(phone.locator("#state")).to_have_text("已受理")
        expect(phone.locator("#deadline")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} 前办结$"))
        assert "王**" in phone.content()
        assert "王建国" not in phone.content()
        phone.screenshot(path=str(SCREENSHOTS / "status.png"), full_page=True)


def login(node: support.Service) -> requests.Session:
    """A clerk's session over plain HTTP, CSRF token included."""
    s = requests.Session()
    token = csrf_of(s.get(node.url + "/login").text)
    resp = s.post(
        node.url + "/login", data={"username": "li", "password": PASSWORD, "csrf_token": token}, allow_redirects=False
    )
    assert resp.status_code == 302
    return s


def post_form(s: requests.Session, node: support.Service, path: str, data: dict, page: str) -> requests.Response:
    token = csrf_of(s.get(node.url + page).text)
    return s.post(node.url + path, data={**data, "csrf_token": token}, allow_redirects=False)


def sync_now(s: requests.Session, node: support.Service, timeout: float = 150) -> None:
    """Press "sync now" until a round of our own completes (the background job may hold the lock)."""
    deadline = time.monotonic() + timeout
    while True:
        post_form(s, node, "/sync/now", {}, "/sync")
        page = s.get(node.url + "/sync").text
        if "同步完成" in page:
            return
        assert "后台正在同步" in page, page
        assert time.monotonic() < deadline, page
        time.sleep(0.2)


def test_capture_survives_sigkill_and_reaches_hub_once(village) -> None:
    hub, node = village
    hub.stop()  # the hub is unreachable while the clerk works
    node.start()
    s = login(node)
    form = {
        "applicant.name": "王建国",
        "applicant.id_number": ID_NUMBER,
        "applicant.phone": "13912345678",
        "applicant.address": "桃源村三组12号",
        "fields.site_location": "三组",
        "fields.site_area": "120",
        "fields.floor_area": "180",
        "brought": ["M-APPLICATION", "M-ID", "M-HUKOU", "M-GROUP-MINUTES"],
        "submit": "send",
    }
    resp = post_form(s, node, "/capture/JF-01", form, "/capture/JF-01")
    assert resp.status_code == 302
    code = re.search(r"/requests/([A-Z0-9]{9})", resp.headers["Location"]).group(1)  # type: ignore[union-attr]
    assert "已保存" in s.get(node.url + resp.headers["Location"]).text  # the clerk saw it confirmed
    node.stop(signal.SIGKILL)

    node.start()
    s = login(node)
    assert code in s.get(node.url + "/?q=" + code).text
    hub.start()
    for _ in range(2):  # a second round must not send it again
        sync_now(s, node)
    assert hub_count(hub, 'SELECT count(*) FROM "case" WHERE receipt_code = ?', code) == 1
    assert hub_count(hub, "SELECT count(*) FROM nodeevent WHERE type = 'request.captured'") == 1
