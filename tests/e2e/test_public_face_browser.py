"""The public face in a real Chromium at 375×667 with JavaScript off, against a real hub and village node.

The service guide and its A4 poster; a complaint left at the village, routed to the supervisor,
answered, and the answer seen at the village and on the status page; a 差评 given on the status
page, rectified, called back and counted on the supervision pages; the public results page.
Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path


from tests import support

SHOTS = support.SCREENSHOTS  # var/screenshots; `make screenshots` points it at docs/screenshots
PASSWORD = "window-pass-1"
PHONE = {"width": 375, "height": 667}


def test_public_face_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    staff = [support.Staff("wang", "王芳", windows="W05,W10"), support.Staff("boss", "赵督查", role="supervisor")]
    with support.village(tmp_path, staff, PASSWORD, clerk_password=PASSWORD) as village:
        hub, node = village.hub, village.node
        code = village.capture("FP-01", name="刘晓红")
        node.cli("sync")
        with support.chromium() as browser:
            errors: list[str] = []

            def context(width: int = 375, height: int = 667):
                ctx = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=False)
                return support.watch_errors(ctx.new_page(), errors)

            villager = context()
            # 1. The service guide: every item by window, one poster per item with its QR code.
            villager.goto(f"{hub.url}/guide")
            expect(villager.locator("#window-W05 h2")).to_have_text("民政窗口")
            expect(villager.locator("#DB-01")).to_contain_text("经济状况核对授权书")
            villager.screenshot(path=str(SHOTS / "public-guide.png"))
            villager.click("#DB-01 h3 a")
            expect(villager.locator(".poster h2")).to_contain_text("农村最低生活保障申请")
            expect(villager.locator(".poster svg")).to_be_visible()
            villager.screenshot(path=str(SHOTS / "public-guide-item.png"), full_page=True)
            poster = context(794, 1123)  # A4 at 96 dpi
            poster.goto(f"{hub.url}/guide/DB-01")
            poster.emulate_media(media="print")
            expect(poster.locator(".print-bar")).to_be_hidden()
            poster.screenshot(path=str(SHOTS / "guide-poster-a4.png"), full_page=True)
            assert poster.pdf(format="A4")[:4] == b"%PDF"

            # 2. A complaint left at the village point, named against a staff member.
            clerk = context(1000, 800)
            support.log_in(clerk, node.url, "li", PASSWORD)
            clerk.goto(f"{node.url}/messages")
            clerk.check("input[name=category][value=complaint]")
            clerk.fill("textarea[name=content]", "计生窗口办事拖拉，三次才办好<script>")
            clerk.fill("input[name=about]", "王芳")
            clerk.click("form.box button[type=submit]")
            mail_code = clerk.locator("#mail-code").inner_text()
            pin = clerk.locator("#mail-pin").inner_text()
            node.cli("sync")

            staff = context(1000, 800)
            support.log_in(staff, hub.url, "wang", PASSWORD)
            staff.goto(f"{hub.url}/console/mailbox")
            expect(staff.locator("#messages")).not_to_contain_text(mail_code)
            boss = context(1000, 800)
            support.log_in(boss, hub.url, "boss", PASSWORD)
            boss.goto(f"{hub.url}/console/mailbox")
            boss.click(f"#messages a:has-text('{mail_code}')")
            expect(boss.locator("#content")).to_contain_text("<script>")
            boss.fill("textarea[name=reply]", "经核实情况属实，已责令改进，感谢监督。")
            boss.fill("textarea[name=outcome]", "对当事人批评教育")
            boss.click("form.actions button[type=submit]")
            expect(boss.locator("#reply")).to_contain_text("经核实情况属实")
            node.cli("sync")
            clerk.goto(f"{node.url}/messages/{mail_code}")
            expect(clerk.locator("#reply")).to_contain_text("经核实情况属实")
            clerk.screenshot(path=str(SHOTS / "node-mailbox-reply.png"), full_page=True)
            villager.goto(f"{hub.url}/status")
            villager.fill("input[name=code]", mail_code)
            villager.fill("input[name=tail]", pin)
            villager.click("form button[type=submit]")
            expect(villager.locator("#reply")).to_contain_text("经核实情况属实")
            villager.screenshot(path=str(SHOTS / "public-status-mail-reply.png"), full_page=True)
            # The public mailbox page itself: phone optional, a code and a PIN back.
            villager.goto(f"{hub.url}/mailbox")
            villager.check("input[name=category][value=consult]")
            villager.fill("textarea[name=content]", "临时救助需要哪些材料？")
            villager.click("form button[type=submit]")
            expect(villager.locator("#mail-pin")).to_have_text(re.compile(r"^\d{4}$"))
            villager.screenshot(path=str(SHOTS / "public-mailbox.png"), full_page=True)

            # 3. The matter is done; the villager gives a 差评 on the status page.
            staff.goto(f"{hub.url}/console/case/{code}")
            staff.click("button[value=immediate]")
            villager.goto(f"{hub.url}/status?code={code}&tail=8000")
            villager.check("input[name=level][value=非常不满意]")
            villager.fill("textarea[name=comment]", "等了很久")
            villager.screenshot(path=str(SHOTS / "public-status-rating.png"), full_page=True)
            villager.click("#rate button[type=submit]")
            expect(villager.locator("#rated")).to_contain_text("15 个工作日内核实整改")
            staff.goto(f"{hub.url}/ratings/{code}")
            staff.fill("form:has(legend:has-text('登记核实整改')) textarea[name=note]", "已核实，优化了生育登记流程")
            staff.click("form:has(legend:has-text('登记核实整改')) button[type=submit]")
            expect(staff.locator("#rating-state")).to_have_text("已整改")
            boss.goto(f"{hub.url}/ratings/{code}")
            boss.check("input[name=result][value=满意]")
            boss.fill("form:has(legend:has-text('登记回访')) textarea[name=note]", "电话回访，群众表示认可")
            boss.click("form:has(legend:has-text('登记回访')) button[type=submit]")
            expect(boss.locator("#callback")).to_contain_text("群众表示认可")
            boss.goto(f"{hub.url}/ratings")
            expect(boss.locator("#fig-bad-rectified")).to_have_text("1")
            expect(boss.locator("#fig-callback-rate")).to_have_text("100.0%")
            expect(boss.locator("#ratings-by-village")).to_contain_text("桃源村")
            boss.screenshot(path=str(SHOTS / "supervision-ratings.png"), full_page=True)
            boss.goto(f"{hub.url}/supervision/")
            expect(boss.locator("#fig-messages")).to_have_text("2")
            expect(boss.locator("#fig-reply-rate")).to_contain_text("50.0%")
            expect(boss.locator("#fig-callback")).to_have_text("100.0%")

            # 4. The decision made public, masked.
            villager.goto(f"{hub.url}/results")
            row = villager.locator("table.results tbody tr").first
            expect(row).to_contain_text("刘**")
            expect(row).to_contain_text("桃源村")
            expect(row).to_contain_text("生育登记")
            expect(villager.locator("body")).not_to_contain_text("刘晓红")
            villager.screenshot(path=str(SHOTS / "public-results.png"), full_page=True)
            assert not errors, errors
