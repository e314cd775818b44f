"""Window staff in a real Chromium against a real hub and a real village node.

Staff log in, see the synced request, ask for materials, see the supplement arrive
from the node, accept and complete; the villager's status page shows each state.
Screenshots go to var/screenshots/ (`make screenshots`: docs/screenshots/).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import support

SHOTS = support.SCREENSHOTS
PASSWORD = "window-pass-1"


def _supplement(node: support.Service, code: str, materials: list[str]) -> None:
    """The clerk records the villager's 补正 on the node (its own process, its own database)."""
    script = (
        "import sys, json\n"
        "from node import create_app\nfrom node.db import database\nfrom node.capture import add_event\n"
        "create_app()\n"
        "with database.connection_context():\n"
        "    add_event(sys.argv[1], 'request.supplemented', '李文书', {'materials': json.loads(sys.argv[2])})\n"
    )
    import json

    subprocess.run(
        [sys.executable, "-c", script, code, json.dumps(materials)],
        check=True,
        cwd=support.ROOT,
        env={**os.environ, "DAIBAN_NODE_DIR": str(node.data_dir)},
        timeout=60,
    )


def _run(tmp_path: Path, database_url: str | None = None) -> None:
    from playwright.sync_api import expect

    staff = [support.Staff("wang", "王芳", windows="W05,W09"), support.Staff("boss", "赵督查", role="supervisor")]
    with support.village(tmp_path, staff, PASSWORD, database_url=database_url) as village:
        hub, node = village.hub, village.node
        code = village.capture("DB-03", name="刘晓红")
        others = [village.capture("JF-01", name="陈建国"), village.capture("DB-01", name="黄秀英")]
        assert "中心确认事件 3" in node.cli("sync").stdout
        status_url = f"{hub.url}/status?code={code}&tail=8000"
        with support.chromium() as browser:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            phone = browser.new_page(viewport={"width": 360, "height": 640})
            errors: list[str] = []
            # Every stylesheet and page must load (the browser's own favicon probe aside); CSP must not bite.
            support.watch_errors(page, errors)

            support.log_in(page, hub.url, "wang", PASSWORD)
            row = page.locator(f"tr[data-code='{code}']")
            expect(row).to_contain_text("刘晓红")
            expect(row).to_contain_text("桃源村")
            expect(row).to_contain_text("王芳")
            for other in others:
                expect(page.locator(f"tr[data-code='{other}']")).to_be_visible()
            page.screenshot(path=str(SHOTS / "hub-queue.png"), full_page=True)

            phone.goto(status_url)
            expect(phone.locator(".state")).to_have_text("已接收")
            expect(phone.locator("body")).to_contain_text("刘**")

            row.locator("a").click()
            expect(page.locator("h1")).to_contain_text("临时救助申请")
            # DB-03 临时救助 is approved without 公示; DB-01 低保 waits 7 days (test_county_browser.py, unit tests).
            box = page.locator("input[name=missing][value='M-INCOME']")
            box.check()  # the window finds the income statement unusable: the one 补正 notice of this case
            page.fill("form:has(input[value=ask_materials]) textarea[name=note]", "请一并带上户口簿原件核对")
            page.click("button[value=ask_materials]")
            expect(page.locator("article.paper h1")).to_have_text("一次性告知单（补正材料）")
            expect(page.locator("ol.missing")).to_contain_text("家庭收入及财产状况声明")
            expect(page.locator("ol.missing")).to_contain_text("户口簿原件")
            page.screenshot(path=str(SHOTS / "hub-notice.png"), full_page=True)
            pdf = page.pdf(format="A4")  # prints on A4 without error
            assert pdf[:4] == b"%PDF"

            phone.goto(status_url)
            expect(phone.locator(".state")).to_have_text("待补正")
            expect(phone.locator(".missing")).to_contain_text("家庭收入及财产状况声明")
            phone.screenshot(path=str(SHOTS / "hub-status.png"), full_page=True)

            node.cli("sync")
            assert village.state(code) == "needs_materials"
            _supplement(node, code, ["M-INCOME"])
            node.cli("sync")

            page.goto(f"{hub.url}/console/")
            expect(page.locator(f"tr[data-code='{code}'] .supplemented")).to_have_text("补正已到")
            page.goto(f"{hub.url}/console/case/{code}")
            expect(page.locator(".history")).to_contain_text("补正材料到达")
            expect(page.locator(".facts .state").first).to_have_text("已接收")
            page.screenshot(path=str(SHOTS / "hub-case.png"), full_page=True)
            page.click("button[value=accept]")
            expect(page.locator("article.paper h1")).to_have_text("事项受理通知单")
            expect(page.locator("article.paper")).to_contain_text("承诺办结日期")
            expect(page.locator("article.paper")).to_contain_text("申请材料齐全、符合法定形式")
            phone.goto(status_url)
            expect(phone.locator(".state")).to_have_text("已受理")

            page.goto(f"{hub.url}/console/case/{code}")
            page.fill("form:has(input[value=approve]) input[name=note]", "经审核符合条件")
            page.click("button[value=approve]")
            expect(page.locator("article.paper h1")).to_have_text("办结通知")
            expect(page.locator("article.paper")).to_contain_text("准予")
            phone.goto(status_url)
            expect(phone.locator(".state")).to_have_text("办结（准予）")

            page.goto(f"{hub.url}/console/?show=closed")
            expect(page.locator(f"tr[data-code='{code}']")).to_contain_text("办结（准予）")

            # The supervisor's dashboard counts what this produced: three received, one completed on time.
            boss = browser.new_page(viewport={"width": 1200, "height": 800})
            support.log_in(boss, hub.url, "boss", PASSWORD)
            boss.goto(f"{hub.url}/supervision/")
            expect(boss.locator("#fig-handled")).to_have_text("3")
            expect(boss.locator("#fig-completed")).to_have_text("1")
            expect(boss.locator("#fig-in-progress")).to_have_text("2")
            expect(boss.locator("#fig-on-time-rate")).to_have_text("100.0%")
            assert not errors, errors
        node.cli("sync")
        assert village.state(code) == "approved"


def test_window_staff_handle_a_synced_request_in_chromium(tmp_path: Path) -> None:
    _run(tmp_path)


@pytest.mark.slow
def test_window_staff_handle_a_synced_request_in_chromium_postgresql(tmp_path: Path) -> None:
    for url in support.pg_database():
        _run(tmp_path, url)
