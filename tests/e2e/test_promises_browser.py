"""The centre's promises in Debian's Chromium, real hub and node processes, the way staff and clerk see them.

A village request with materials missing waits at the hub without a clock; a partial supplement
keeps it waiting with the true remainder listed at hub and node; the rest arrives and the clock
starts; staff accept; an extension is requested, approved by the supervisor and seen at the
village; a second 补正 is refused, then allowed by the supervisor's recorded override.
Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import support

SHOTS = support.SCREENSHOTS  # var/screenshots; `make screenshots` points it at docs/screenshots
PASSWORD = "promise-pass-1"
CLERK_PASSWORD = "correct-horse-9"


@pytest.mark.browser
def test_missing_materials_wait_unclocked_then_extension_and_override_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    staff = [support.Staff("wang", "王芳", windows="W05"), support.Staff("boss", "赵督查", role="supervisor")]
    township = {"DAIBAN_HUB_TOWNSHIP_GOVERNMENT": "青山镇人民政府"}
    with support.village(tmp_path, staff, PASSWORD, clerk_password=CLERK_PASSWORD, hub_env=township) as village:
        hub, node = village.hub, village.node
        code = village.capture("DB-01", missing=["M-HUKOU", "M-INCOME"], name="刘晓红")
        node.cli("sync")
        with support.chromium() as browser:
            desk = browser.new_page(viewport={"width": 1366, "height": 768})
            boss = browser.new_page(viewport={"width": 1366, "height": 768})
            clerk = browser.new_page(viewport={"width": 1024, "height": 768})
            support.log_in(desk, hub.url, "wang", PASSWORD)
            support.log_in(boss, hub.url, "boss", PASSWORD)
            support.log_in(clerk, node.url, "li", CLERK_PASSWORD)
            case_url, req_url = f"{hub.url}/console/case/{code}", f"{node.url}/requests/{code}"

            # 1. Waiting for materials, no clock, at hub and node.
            desk.goto(f"{hub.url}/console/")
            expect(desk.locator(f"tr[data-code='{code}']")).to_have_class(re.compile(r"\bwaiting\b"))
            desk.goto(case_url)
            expect(desk.locator("td.clock")).to_contain_text("尚未受理：补正期间不计时")
            expect(desk.locator("button[value=accept]")).to_have_count(0)
            clerk.goto(req_url)
            expect(clerk.locator("#clock")).to_contain_text("补正期间不计时")
            expect(clerk.locator("#clock")).not_to_contain_text("前办结")
            expect(clerk.locator("#hub-asked")).to_have_count(0)  # the hub asked nothing; the list is the village's
            expect(clerk.locator("#still-missing")).to_contain_text("户口簿")
            clerk.screenshot(path=str(SHOTS / "promises-node-waiting.png"), full_page=True)

            # 2. A partial supplement: still waiting, clock still not running, true remainder everywhere.
            clerk.check("form[action$='/supplement'] input[value='M-HUKOU']")
            clerk.click("form[action$='/supplement'] button[type=submit]")
            expect(clerk.locator("#still-missing")).to_contain_text("家庭收入及财产状况声明")
            expect(clerk.locator("#still-missing")).not_to_contain_text("户口簿")
            expect(clerk.locator("#one-time-notice")).to_be_visible()
            node.cli("sync")
            desk.goto(case_url)
            expect(desk.locator(".facts .state").first).to_have_text("待补正")
            expect(desk.locator("td.clock")).to_contain_text("尚未受理")
            expect(desk.locator(".history")).to_contain_text("尚缺：家庭收入及财产状况声明")
            clerk.goto(req_url)
            expect(clerk.locator("#still-missing")).to_contain_text("家庭收入及财产状况声明")
            desk.screenshot(path=str(SHOTS / "promises-hub-partial.png"), full_page=True)

            # 3. The rest arrives: complete, the clock starts; staff accept with the true wording.
            clerk.check("form[action$='/supplement'] input[value='M-INCOME']")
            clerk.click("form[action$='/supplement'] button[type=submit]")
            expect(clerk.locator("#one-time-notice")).to_have_count(0)
            node.cli("sync")
            desk.goto(case_url)
            expect(desk.locator(".facts .state").first).to_have_text("已接收")
            expect(desk.locator("td.clock")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d"))
            desk.click("button[value=accept]")
            expect(desk.locator("article.paper h1")).to_have_text("事项受理通知单")
            expect(desk.locator("article.paper")).to_contain_text("申请材料齐全、符合法定形式")
            expect(desk.locator("article.paper .issuer")).to_have_text("青山镇人民政府")
            desk.screenshot(path=str(SHOTS / "promises-accept-notice.png"), full_page=True)

            # 4. Extension: staff ask, the supervisor approves, the village sees the new date.
            desk.goto(case_url)
            due_before = desk.locator("td.clock").inner_text()
            desk.fill("input[name=days]", "10")
            desk.fill("form:has(button[value=extension]) input[name=reason]", "需入户核查家庭经济状况")
            desk.click("button[value=extension]")
            expect(desk.locator(".extensions")).to_contain_text("待批准")
            assert desk.locator("td.clock").inner_text() == due_before  # nothing moves before approval
            boss.goto(case_url)
            boss.fill(".extensions input[name=note]", "同意延长")
            boss.click(".extensions button[value=approve]")
            expect(boss.locator(".extensions")).to_contain_text("已批准")
            new_due = re.search(r"\d{4}-\d\d-\d\d", boss.locator("td.clock").inner_text()).group(0)  # type: ignore[union-attr]
            assert new_due not in due_before
            node.cli("sync")
            clerk.goto(req_url)
            expect(clerk.locator("#clock")).to_contain_text(f"{new_due} 前办结")
            clerk.goto(f"{req_url}/hub-notice")
            expect(clerk.locator("#notice-title")).to_have_text("延期办理告知书")
            expect(clerk.locator("#hub-document")).to_contain_text("需入户核查家庭经济状况")
            clerk.screenshot(path=str(SHOTS / "promises-node-extension.png"), full_page=True)

            # 5. A second 补正: refused for staff, allowed by the supervisor with a recorded reason.
            desk.goto(case_url)
            desk.check("form:has(input[value=ask_materials]) input[name=missing][value='M-ID']")
            desk.click("button[value=ask_materials]")
            expect(desk.locator("p.error[role=alert]")).to_contain_text("一次告知")
            expect(desk.locator(".facts .state").first).to_have_text("已受理")
            desk.screenshot(path=str(SHOTS / "promises-second-request-refused.png"), full_page=True)
            boss.goto(case_url)
            boss.check("form:has(input[value=ask_materials]) input[name=missing][value='M-ID']")
            boss.fill("input[name=override]", "身份证复印件模糊，无法核对")
            boss.click("button[value=ask_materials]")
            expect(boss.locator("article.paper h1")).to_have_text("一次性告知单（补正材料）")
            boss.goto(f"{hub.url}/supervision/")
            expect(boss.locator("#fig-overrides strong")).to_have_text("1")
            boss.screenshot(path=str(SHOTS / "promises-dashboard.png"), full_page=True)
            node.cli("sync")
            clerk.goto(req_url)
            expect(clerk.locator("#hub-asked")).to_contain_text("身份证")
            expect(clerk.locator("#clock")).to_contain_text("补正期间不计时")
