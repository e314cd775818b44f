"""窗口收件 in a real Chromium at 1366×768 against a real hub and a real village node.

A walk-in at the counter is received and completed on the spot, its receipt printed (QR to the
public status page); staff find a village request by the last four digits of the ID number and
open the scan the village uploaded for it; staff of another window are refused the scan.
Screenshots go to var/screenshots/ (`make screenshots`: docs/screenshots/).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import support
from tests.factories import capture, id_number
from tests.images import photo

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

SHOTS = support.SCREENSHOTS
PASSWORD = "counter-pass-1"
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}


def _run(tmp_path: Path, database_url: str | None = None) -> None:
    from playwright.sync_api import expect

    staff = [support.Staff("zhou", "周敏", windows="W10,W05"), support.Staff("lin", "林海", windows="W14")]
    with support.village(tmp_path, staff, PASSWORD, database_url=database_url) as village:
        hub, node = village.hub, village.node
        # A village request with a scan of the household register, synced up with its bytes.
        ident = id_number()
        data = capture("DB-01", name="黄秀英")
        data["applicant"]["id_number"] = ident
        village_code = village.submit(data)
        scan = tmp_path / "户口簿.jpg"
        scan.write_bytes(photo(1200, 900))
        node.cli("attach", village_code, str(scan), "--material", "M-HUKOU")
        assert "上传附件 1 个" in node.cli("sync").stdout

        with support.chromium() as browser:
            errors: list[str] = []
            page = support.watch_errors(
                browser.new_page(viewport=VIEWPORT),
                errors,
                lambda r: r.status == 422 and "/console/counter/" in r.url,  # the refused form below
            )
            support.log_in(page, hub.url, "zhou", PASSWORD)

            # The walk-in: 生育登记 (即办件) with every material, completed on the spot.
            page.click("header nav >> text=窗口收件")
            page.click("text=FP-01 生育登记")
            expect(page.locator("h1")).to_contain_text("窗口收件")
            page.fill("#applicant\\.name", "刘梅")
            page.fill("#applicant\\.id_number", "4301021990010112")  # two digits short: refused first
            page.fill("#applicant\\.phone", "13900139000")
            page.select_option("#village", label="桃源村")
            page.fill("#applicant\\.address", "桃源村二组5号")
            page.fill("#fields\\.spouse_name", "陈刚")
            page.fill("#fields\\.spouse_id_number", id_number())
            page.fill("#fields\\.child_order", "1")
            page.fill("#fields\\.expected_birth_date", "2026-05-01")
            for code in ("M-ID", "M-HUKOU", "M-MARRIAGE"):
                page.check(f"input[name=brought][value='{code}']")
            page.click("#complete-now")
            expect(page.locator("#form-errors")).to_contain_text("未保存任何内容")
            expect(page.locator("#applicant\\.id_number-error")).to_contain_text("身份证号码应为18位")
            page.screenshot(path=str(SHOTS / "hub-counter-form.png"), full_page=True)
            page.fill("#applicant\\.id_number", id_number())
            for code in ("M-ID", "M-HUKOU", "M-MARRIAGE"):
                expect(page.locator(f"input[name=brought][value='{code}']")).to_be_checked()  # kept as ticked
            page.click("#complete-now")
            expect(page.locator("#received-box")).to_be_visible()
            expect(page.locator(".facts .state").first).to_have_text("办结（准予）")
            expect(page.locator(".first-contact")).to_contain_text("周敏（窗口收件）")
            page.click("#print-receipt")
            expect(page.locator("#receipt-code")).to_have_text(re.compile(r"^ZZ.-...-...$"))
            expect(page.locator("#receipt-state")).to_have_text("办结（准予）")
            expect(page.locator("#receipt .qr svg")).to_be_visible()
            expect(page.locator("#receipt")).to_contain_text("/status?code=ZZ")
            page.screenshot(path=str(SHOTS / "hub-counter-receipt.png"), full_page=True)
            pdf = page.pdf(format="A5")
            assert pdf[:4] == b"%PDF"
            counter_code = page.locator("#receipt-code").inner_text().replace("-", "")
            page.go_back()
            page.click("#received-box >> text=办结通知")
            expect(page.locator("article.paper")).to_contain_text("在乡镇政务服务中心窗口提交")
            assert page.pdf(format="A4")[:4] == b"%PDF"

            # Search by the last four digits of an ID number finds the village's request.
            page.click("header nav >> text=查询")
            page.fill("input[name=q]", ident[-4:])
            page.press("input[name=q]", "Enter")
            row = page.locator(f"tr[data-code='{village_code}']")
            expect(row).to_contain_text("黄秀英")
            expect(row).to_contain_text("代办点")
            page.screenshot(path=str(SHOTS / "hub-search.png"), full_page=True)
            page.fill("input[name=q]", counter_code.lower())
            page.press("input[name=q]", "Enter")
            expect(page.locator(f"tr[data-code='{counter_code}']")).to_contain_text("窗口收件")

            # The scan the village uploaded, on the case page and opened by the window's staff.
            page.goto(f"{hub.url}/console/search?q={ident[-4:]}")
            row.locator("a").click()
            panel = page.locator("table.attachments")
            expect(panel).to_contain_text("户口簿.jpg")
            expect(panel).to_contain_text("户口簿")
            expect(panel.locator(".upload-state")).to_contain_text("已上传")
            page.screenshot(path=str(SHOTS / "hub-case-attachments.png"), full_page=True)
            with page.expect_popup() as popup:
                panel.locator("a").click()
            scan_page = popup.value
            scan_page.wait_for_load_state()
            assert scan_page.evaluate("document.images.length && document.images[0].naturalWidth") > 0
            href = panel.locator("a").get_attribute("href")

            # Staff of another window: refused.
            other = browser.new_page(viewport=VIEWPORT)
            support.log_in(other, hub.url, "lin", PASSWORD)
            refused = other.goto(f"{hub.url}{href}")
            assert refused is not None
            assert refused.status == 403
            expect(other.locator("body")).to_contain_text("只有该办件所属窗口的工作人员可以查看附件")
            assert not errors, errors


def test_counter_search_and_attachments_in_chromium(tmp_path: Path) -> None:
    _run(tmp_path)


@pytest.mark.slow
def test_counter_search_and_attachments_in_chromium_postgresql(tmp_path: Path) -> None:
    for url in support.pg_database():
        _run(tmp_path, url)
