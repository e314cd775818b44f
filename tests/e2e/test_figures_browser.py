"""The centre's report in Debian's Chromium at 1366×768 against a real hub process, and
`daiban hub figures` against the same data.

A period's cases are written into the hub's database in bulk by a hub-side script (the case
actions themselves are tested elsewhere): 即办件 at 计划生育 (W10), completed 承办件 at 民政 (W05),
承办件 still in progress at 国土与城建 (W09), one 不予受理, and a few outside the period.
Screenshot: var/screenshots/ (`make screenshots`: docs/screenshots/) hub-figures.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests import support

SHOTS = support.SCREENSHOTS
PASSWORD = "supervise-2026"

SEED = """
from hub import create_app
from hub.db import database
from tests.hub import centre_data

create_app()
shape = centre_data.Shape(instant_counter=40, instant_village=6, undertaken_done=12, undertaken_open=3, refused=1,
                          outside=4, instant_items=("FP-01",), done_items=("DB-03",), open_items=("JF-01",))
with database.connection_context():
    print(centre_data.seed(shape))
"""


def _seed(hub: support.Service) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SEED],
        capture_output=True,
        text=True,
        env={**os.environ, **hub.env, "DAIBAN_HUB_DIR": str(hub.data_dir)},
        cwd=support.ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "66"


def test_figures_page_and_cli_in_chromium(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path)
    hub.cli("add-user", "chen", "--name", "陈督查", "--role", "supervisor", "--password", PASSWORD)
    _seed(hub)
    hub.start()
    try:
        with support.chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            problems: list[str] = []
            support.watch_errors(page, problems)
            page.goto(f"{hub.url}/supervision/")
            page.fill("input[name=username]", "chen")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/supervision/")

            # A period the wrong way round: said in Chinese, nothing shown as if it were figures.
            page.fill("input[name=from]", "2025-10-31")
            page.fill("input[name=to]", "2025-01-01")
            page.click("form.filters button[type=submit]")
            assert page.inner_text("p.error[role=alert]") == "开始日期不能晚于结束日期"
            assert page.locator("#centre-report").count() == 0
            assert len(problems) == 1
            assert "400" in problems[0]  # the refusal is a 400, as it should be
            problems.clear()

            page.fill("input[name=from]", "2025-01-01")
            page.fill("input[name=to]", "2025-10-31")
            page.select_option("select[name=by]", "window")
            page.click("form.filters button[type=submit]")
            page.wait_for_selector("#centre-report")
            # 62 received = 46 即办件 (all completed) + 15 承办件 (12 + 3) + 1 不予受理; the 4 outside left out.
            for selector, value in [
                ("#fig-handled", "62"),
                ("#fig-instant", "46"),
                ("#fig-instant-done", "全部办结"),
                ("#fig-undertaken", "15"),
                ("#fig-undertaken-done", "12"),
                ("#fig-undertaken-open", "3"),
                ("#fig-refused", "1"),
                ("#fig-on-time-rate", "100.0%"),
            ]:
                assert page.inner_text(selector).strip() == value, selector
                assert page.locator(selector).is_visible(), selector
            assert "中心窗口" in page.inner_text("#source-counter")

            rate_chart = page.locator("svg.chart").nth(1)
            assert "按时办结率（承办件）" in (rate_chart.get_attribute("aria-label") or "")
            labels = rate_chart.locator("text[transform]").all_text_contents()
            assert labels == ["民政", "国土与城建", "计划生育"]  # the windows that received cases, by name
            assert not [t for t in labels if re.fullmatch(r"W\d+", t)]  # names, not W05/W09/W10
            bars = rate_chart.locator("rect").all_text_contents()
            assert bars == ["民政：100%"]  # the one window with a completed 承办件
            # 国土与城建 has cases but nothing completed: no bar (not a 0 % bar), and the reason instead.
            assert rate_chart.locator("text.no-bar").count() == 2  # 国土与城建; 计划生育 had only 即办件
            assert rate_chart.locator("text.no-bar").first.text_content() == "尚无办结"
            assert "不画柱" in page.inner_text("#chart-note")
            rate_chart.scroll_into_view_if_needed()
            assert rate_chart.is_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1366, width  # nothing pushes the page sideways at 1366 px
            page.screenshot(path=str(SHOTS / "hub-figures.png"), full_page=True)
            assert problems == []
        assert (SHOTS / "hub-figures.png").stat().st_size > 10_000

        out = hub.cli("figures", "--from", "2025-01-01", "--to", "2025-10-31", "--by", "window").stdout
        assert (
            "接待（收件）62 件：即办件 46 件（全部办结）；承办件 15 件 = 已办结 12 + 正在办理 3；不予受理 1 件" in out
        )
        assert "按时办结率（承办件）：100.0%" in out
        assert "W09 国土与城建" in out
        bad = hub.cli("figures", "--from", "2025-10-31", "--to", "2025-01-01", check=False)
        assert bad.returncode == 2
        assert "开始日期不能晚于结束日期" in bad.stderr
        assert "审计日志完好" in hub.cli("verify-audit").stdout
    finally:
        hub.stop()
