"""USB bundles and attachments through the clerk's browser: real node process, real hub CLI, Debian's Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import support
from tests.factories import capture
from tests.images import photo

PASSWORD = "correct-horse-9"


@pytest.mark.browser
def test_clerk_attaches_a_scan_and_syncs_by_usb_in_the_browser(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    hub = support.make_hub(tmp_path)
    hub.start()
    try:
        node, _ = support.make_node(tmp_path, "taoyuan", hub, "桃源村")
    finally:
        hub.stop()  # the village has no network from here on
    node.cli("add-clerk", "li", "--name", "李文书", "--password", PASSWORD)
    form = tmp_path / "form.json"
    form.write_text(json.dumps(capture("JF-01"), ensure_ascii=False), encoding="utf-8")
    code = node.cli("capture", str(form)).stdout.strip()
    scan = tmp_path / "宅基地现场.jpg"
    scan.write_bytes(photo(2400, 1800))
    note = tmp_path / "说明.txt"
    note.write_text("不是图片", encoding="utf-8")
    usb = tmp_path / "usb"
    usb.mkdir()

    node.extra = ["--no-sync"]
    node.start()
    try:
        with support.chromium() as browser:
            page = browser.new_page(viewport={"width": 1024, "height": 900}, accept_downloads=True)
            page.goto(node.url + "/login")
            page.fill("#username", "li")
            page.fill("#password", PASSWORD)
            page.press("#password", "Enter")
            page.wait_for_url(node.url + "/")

            page.goto(f"{node.url}/requests/{code}")
            page.set_input_files("#att-file", str(note))
            page.click("button:has-text('添加附件')")
            expect(page.locator("#att-error")).to_contain_text("文件不是可识别的图片")
            page.select_option("#att-material", "M-DESIGN")
            page.set_input_files("#att-file", str(scan))
            page.click("button:has-text('添加附件')")
            expect(page.locator(".flash")).to_contain_text("附件已保存：宅基地现场.jpg")
            row = page.locator("table.attachments tbody tr")
            expect(row).to_have_count(1)
            expect(row).to_contain_text("建房设计图")
            expect(row.locator(".upload-state")).to_have_text("待上传")
            assert page.evaluate("document.querySelector('img.thumb').naturalWidth") == 1600

            page.goto(node.url + "/sync")
            expect(page.locator("#attachments-pending")).to_contain_text("1 个")
            with page.expect_download() as got:
                page.click("button:has-text('导出U盘同步包')")
            download = got.value
            assert download.suggested_filename.startswith("daiban-桃源村-")
            up = usb / download.suggested_filename
            download.save_as(str(up))

            res = hub.cli("import-bundle", str(up), "--out", str(usb / "reply.bundle")).stdout
            assert "接收事件 2" in res
            assert "收到附件 1" in res

            page.goto(node.url + "/sync")
            page.set_input_files("#bundle-file", str(usb / "reply.bundle"))
            page.click("button:has-text('导入回复包')")
            expect(page.locator(".flash").first).to_contain_text("已导入回复包：中心确认事件 2")
            expect(page.locator("#attachments-pending")).to_contain_text("0 个")

            page.goto(f"{node.url}/requests/{code}")
            expect(page.locator(".status-box .state")).to_contain_text("已接收")
            expect(page.locator("table.attachments .upload-state")).to_contain_text("已上传")
    finally:
        node.stop()
