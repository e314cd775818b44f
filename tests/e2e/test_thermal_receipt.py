"""The receipt prints on the 58 mm and 80 mm thermal rolls many village points use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import support
from tests.deploy.helpers import capture

PASSWORD = "correct-horse-9"
MM = 72 / 25.4  # PDF points per millimetre
CENTRE_PHONE, CENTRE_ADDRESS = "0731-8888 6666", "青山镇人民路 18 号便民服务大厅"


def pdf_page_width_mm(pdf: bytes) -> float:
    """Width of the first page's MediaBox, in millimetres."""
    box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert box is not None, "no MediaBox in the PDF"
    return (float(box.group(3)) - float(box.group(1))) / MM


@pytest.mark.browser
def test_receipt_fits_thermal_rolls(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    hub = support.make_hub(tmp_path).start()
    node, _ = support.make_node(tmp_path, "node", hub, "桃源村")
    node.cli("add-clerk", "li", "--name", "李文书", "--password", PASSWORD)
    code = capture(node, tmp_path, "王建国")
    node.cli("centre", "--phone", CENTRE_PHONE, "--address", CENTRE_ADDRESS)
    node.start()
    try:
        with support.chromium() as browser:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.goto(node.url + "/login")
            page.fill("#username", "li")
            page.fill("#password", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(node.url + "/")
            for paper, width, margin in (("80mm", 80, 4), ("58mm", 58, 3)):
                page.set_viewport_size({"width": 1024, "height": 768})
                page.goto(f"{node.url}/requests/{code}/receipt?paper={paper}")
                expect(page.locator("a", has_text=f"热敏 {width} 毫米")).to_be_visible()
                expect(page.locator("#centre-contact")).to_contain_text(f"电话：{CENTRE_PHONE}")
                expect(page.locator("#centre-contact")).to_contain_text(f"地址：{CENTRE_ADDRESS}")
                # Chromium loads a print-only stylesheet lazily; wait until its rules (and those it imports) are in.
                page.wait_for_function(
                    "p => [...document.styleSheets].some(s => (s.href || '').endsWith('print-' + p + '.css')"
                    " && s.cssRules.length > 0 && [...s.cssRules].every(r => !(r instanceof CSSImportRule)"
                    " || (r.styleSheet && r.styleSheet.cssRules.length > 0)))",
                    arg=paper,
                )
                pdf = page.pdf(prefer_css_page_size=True, print_background=False)
                assert abs(pdf_page_width_mm(pdf) - width) < 0.5, paper
                # Laid out at the roll's printable width, nothing sticks out sideways.
                printable_px = round((width - 2 * margin) * 96 / 25.4)
                page.set_viewport_size({"width": printable_px, "height": 768})
                page.emulate_media(media="print")
                overflow = page.evaluate("() => document.documentElement.scrollWidth")
                page.emulate_media(media="null")  # "screen" would also stop page.pdf() applying print CSS
                assert overflow <= printable_px, f"{paper}: {overflow}px of content on a {printable_px}px roll"
            page.set_viewport_size({"width": 1024, "height": 768})
            for paper in ("a5", "a4"):  # the centre's phone and address are on every receipt
                page.goto(f"{node.url}/requests/{code}/receipt?paper={paper}")
                expect(page.locator("#centre-contact")).to_contain_text(CENTRE_PHONE)
                expect(page.locator("#centre-contact")).to_contain_text(CENTRE_ADDRESS)
                page.screenshot(path=str(support.SCREENSHOTS / f"screens-receipt-{paper}.png"), full_page=True)
            # An unknown paper falls back to A5 rather than failing.
            page.goto(f"{node.url}/requests/{code}/receipt?paper=../../etc")
            assert "print-a5.css" in page.content()
    finally:
        node.stop()
        hub.stop()
