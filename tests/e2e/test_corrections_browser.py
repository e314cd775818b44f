"""Corrections in Debian's Chromium, real hub and node processes: the clerk's, then window staff's.

The clerk (node, 1024×768) corrects a misspelt name before the hub's 受理, with a reason; it syncs
up and the hub's history (1366×768) shows it, by the clerk's name, in time order. Window staff
correct the phone number; it syncs down and the node's history shows it with the staff member's
display name and the reason. After 受理 the clerk is told to ask the window instead. The audit
page reads the corrections as sentences. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import support

SHOTS = support.SCREENSHOTS  # var/screenshots; `make screenshots` points it at docs/screenshots
PASSWORD = "window-pass-1"
CLERK_PASSWORD = "correct-horse-9"


@pytest.mark.browser
def test_a_correction_with_its_reason_in_the_history_on_both_sides_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    staff = [support.Staff("wang", "王芳", windows="W09"), support.Staff("boss", "赵督查", role="supervisor")]
    with support.village(tmp_path, staff, PASSWORD, clerk_password=CLERK_PASSWORD) as village:
        hub, node = village.hub, village.node
        code = village.capture("JF-01", name="陈建囯")
        node.cli("sync")
        with support.chromium() as browser:
            clerk = browser.new_page(viewport={"width": 1024, "height": 768})
            desk = browser.new_page(viewport={"width": 1366, "height": 768})
            support.log_in(clerk, node.url, "li", CLERK_PASSWORD)
            support.log_in(desk, hub.url, "wang", PASSWORD)
            req_url, case_url = f"{node.url}/requests/{code}", f"{hub.url}/console/case/{code}"

            # 1. The clerk corrects the name before 受理, with the reason.
            clerk.goto(req_url)
            clerk.select_option("#correct-field", "applicant.name")
            clerk.fill("#correct-value", "陈建国")
            clerk.fill("#correct-reason", "“国”字录成了异体字，已与身份证核对")
            clerk.click("#correct button[type=submit]")
            expect(clerk.locator(".flash")).to_contain_text("已更正申请人姓名")
            expect(clerk.locator(".timeline")).to_contain_text(
                "申请人姓名：“陈建囯”改为“陈建国”；原因：“国”字录成了异体字"
            )
            expect(clerk.locator("table.facts")).to_contain_text("陈建国")
            clerk.screenshot(path=str(SHOTS / "node-correction.png"), full_page=True)
            node.cli("sync")

            # 2. The hub shows it in the history, by the clerk's name, after the capture.
            desk.goto(case_url)
            history = desk.locator("table.history")
            expect(history).to_contain_text("代办员更正申请人姓名：“陈建囯”改为“陈建国”；原因：“国”字录成了异体字")
            rows = history.locator("tbody tr")
            expect(rows.first).to_contain_text("收件")
            expect(rows.last).to_contain_text("李文书")
            expect(desk.locator("main")).to_contain_text("陈建国")

            # 3. Window staff correct the phone number; a bad value first is refused, nothing changed.
            desk.select_option("#correct select[name=field]", "applicant.phone")
            desk.fill("#correct input[name=value]", "1390013")
            desk.fill("#correct input[name=reason]", "群众来电更换手机号")
            desk.click("#correct button[type=submit]")
            expect(desk.locator("p.error")).to_contain_text("手机号码应为11位数字")
            expect(desk.locator("p.error")).to_contain_text("未做任何更改")
            desk.select_option("#correct select[name=field]", "applicant.phone")
            desk.fill("#correct input[name=value]", "13900139000")
            desk.fill("#correct input[name=reason]", "群众来电更换手机号")
            desk.click("#correct button[type=submit]")
            expect(history).to_contain_text("更正手机号码：“13800138000”改为“13900139000”；原因：群众来电更换手机号")
            expect(history.locator("tbody tr").last).to_contain_text("王芳")
            expect(desk.locator("footer.tz-note")).to_have_text("本页时间均为北京时间")
            desk.screenshot(path=str(SHOTS / "hub-correction.png"), full_page=True)

            # 4. It reaches the village, by the staff member's display name (never the login name).
            node.cli("sync")
            clerk.goto(req_url)
            timeline = clerk.locator(".timeline")
            expect(timeline).to_contain_text("中心更正登记内容")
            expect(timeline).to_contain_text("手机号码：“13800138000”改为“13900139000”；原因：群众来电更换手机号")
            expect(timeline.locator("tr", has_text="中心更正登记内容")).to_contain_text("王芳")
            expect(timeline).not_to_contain_text("wang")
            expect(clerk.locator("table.facts")).to_contain_text("13900139000")

            # 5. After 受理 the clerk may no longer correct, and is told whom to ask.
            desk.goto(case_url)
            desk.click("button[value=accept]")
            node.cli("sync")
            clerk.goto(req_url)
            expect(clerk.locator("#correct")).to_have_count(0)
            expect(clerk.locator("#correct-closed")).to_contain_text("中心已受理此件，代办员不能再更正")

            # 6. The audit page says it in sentences.
            boss = browser.new_page(viewport={"width": 1366, "height": 768})
            support.log_in(boss, hub.url, "boss", PASSWORD)
            boss.goto(f"{hub.url}/supervision/audit?action=case.corrected")
            expect(boss.locator("td.sentence").first).to_contain_text("王芳更正回执码")
            expect(boss.locator("td.sentence").last).to_contain_text("李文书更正回执码")
