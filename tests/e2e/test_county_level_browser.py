"""County staff in Chromium (1366×768) against a real county hub, fed by a real township hub and village node.

The township passes a 危房改造 case up over the wire; at the county, the staff member finds it in
报县级事项 by its deadline with the township's 初审 opinion, is told a refusal needs its reason,
refuses it with one; the fleet page lists the township; the refusal reaches the village's status page.
"""

from __future__ import annotations

from tests import support
from tests.e2e.test_county_level import capture_at, county_today, three_levels, villager_sees

PASSWORD = "county-pass-1"
DOC_NO = "某县住建〔2026〕31号"
REASON = "经核查，现住房不属于C级、D级危房"


def test_county_staff_refuse_a_passed_up_case_in_the_browser(tmp_path) -> None:
    from playwright.sync_api import expect

    support.chromium_path()  # skip (or fail) before starting servers when there is no browser
    with three_levels(tmp_path) as (county, township, node, token):
        county.cli("add-user", "li", "--name", "李科长", "--windows", "W09", "--password", PASSWORD)
        county.cli("add-user", "ma", "--name", "马督查", "--role", "supervisor", "--password", PASSWORD)
        code = capture_at(node, token)
        node.cli("sync")
        township.cli("act", code, "accept")
        township.cli("act", code, "to_county", "--note", "房屋鉴定报告存疑，请县级核定")
        assert "县级确认事件 2（退回 0）" in township.cli("county-sync").stdout  # the case and yesterday's figures
        with support.chromium() as browser:
            errors: list[str] = []

            def logged_in(username: str):
                page = support.watch_errors(
                    browser.new_page(viewport={"width": 1366, "height": 768}),
                    errors,
                    lambda r: r.url.endswith("/county"),  # the refusal without a reason is the one 400 asked for
                )
                page.goto(f"{county.url}/login")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                return page

            li = logged_in("li")
            li.click("nav >> text=报县级事项")
            row = li.locator(f"tr[data-code='{code}']")
            expect(row).to_contain_text("青山镇")
            expect(row).to_contain_text("桃源村")
            expect(row).to_contain_text("房屋鉴定报告存疑")
            expect(row.locator(".due")).not_to_be_empty()
            row.locator("a").click()
            expect(li.locator(".county-opinion")).to_have_text("房屋鉴定报告存疑，请县级核定")
            li.check("#county-answer input[value=county_deny]")
            li.fill("#county-answer input[name=doc_no]", DOC_NO)
            li.fill("#county-answer input[name=doc_date]", county_today())
            li.click("#county-answer button[type=submit]")
            expect(li.locator("[role=alert]").first).to_contain_text("县级不予批准须写明县级给出的理由")
            li.fill("#county-answer textarea[name=reason]", REASON)
            li.click("#county-answer button[type=submit]")
            expect(li.locator(".facts .state").first).to_have_text("县级不予批准")
            expect(li.locator(".county-doc")).to_have_text(DOC_NO)
            li.goto(f"{county.url}/county/")
            expect(li.locator("table.county-queue")).to_contain_text("暂无待批复的报县级事项")

            ma = logged_in("ma")
            ma.goto(f"{county.url}/fleet/")
            expect(ma.locator("h1")).to_contain_text("乡镇中心")
            township_row = ma.locator("table.fleet tr", has_text="青山镇").first
            expect(township_row.locator(".county-waiting")).to_have_text("0")
            expect(township_row.locator(".county-on-time")).to_have_text("100%")
            assert not errors, errors
        assert "录入县级批复 1 件" in township.cli("county-sync").stdout
        node.cli("sync")
        assert "县级不予批准" in villager_sees(node, code)
