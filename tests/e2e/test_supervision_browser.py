"""The supervisor in Debian's Chromium against a real hub: dashboard figures, fleet, revoke, re-enrol.

Requests come from a real node process; the decisions and some back-dating (so that there is a
late completion, an overdue and a near-due case to show) run as one hub-side script.
Screenshots go to var/screenshots/ (`make screenshots`: docs/screenshots/) hub-dashboard.png and hub-fleet.png.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from shared import enrolment
from tests import support

SHOTS = support.SCREENSHOTS
PASSWORD = "supervise-2026"

# Runs inside the hub's data directory: decide the cases, move some back in time, then sweep.
HUB_SCRIPT = """
import sys
from datetime import timedelta
from hub import create_app, cases
from hub.clock import now, today
from hub.db import database
from hub.deadlines import calendar
from hub.models import Case
from hub.sweep import run_sweep

create_app()
fp01, db03, jf01, db01, fp02, jf03 = sys.argv[1:7]
cal, t = calendar(), today()

def back(n):
    d = t
    while n:
        d -= timedelta(days=1)
        n -= cal.is_workday(d)
    return d

def move(code, received, deadline, closed=None):
    fields = {Case.received_on: received, Case.clock_start: received, Case.deadline: deadline}
    if closed:
        fields[Case.closed_at] = now() - timedelta(days=(t - closed).days)
    Case.update(fields).where(Case.receipt_code == code).execute()

with database.connection_context():
    cases.act(fp01, "approve", "wang")
    cases.act(db03, "accept", "wang"); cases.act(db03, "approve", "wang")
    cases.act(jf01, "accept", "li")
    # db01 arrived with a material missing: already 待补正, unclocked (the village gave the one notice).
    cases.act(fp02, "accept", "zhao")
    cases.act(fp02, "deny", "zhao", reason="不符合奖励扶助条件", legal_basis="省人口与计划生育条例")
    cases.act(jf03, "accept", "li")
    move(jf01, back(35), back(15))                  # overdue: red
    move(fp02, back(40), back(20), closed=back(12))  # completed late
    move(jf03, back(9), cal.add_workdays(back(9), 10))  # 9 of 10 working days used: yellow
    Case.update(satisfaction="满意").where(Case.receipt_code == fp01).execute()
    Case.update(satisfaction="基本满意").where(Case.receipt_code == db03).execute()
    print(run_sweep())
"""


def _hub_script(hub: support.Service, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", HUB_SCRIPT, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **hub.env, "DAIBAN_HUB_DIR": str(hub.data_dir)},
        cwd=support.ROOT,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_supervisor_dashboard_and_fleet_in_chromium(tmp_path: Path) -> None:
    with support.village(tmp_path, [support.Staff("chen", "陈督查", role="supervisor")], PASSWORD) as village:
        hub, node = village.hub, village.node
        support.make_node(tmp_path, "xinghua", hub, "杏花村")  # enrolled, never synced
        codes = [village.capture(item) for item in ("FP-01", "DB-03", "JF-01")]
        codes.append(village.capture("DB-01", missing=["M-CHECK-AUTH"]))
        codes += [village.capture(item) for item in ("FP-02", "JF-03")]
        assert "中心确认事件 6" in node.cli("sync").stdout
        swept = _hub_script(hub, *codes)
        assert "'red': 1" in swept
        assert "'yellow': 1" in swept

        with support.chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            problems: list[str] = []
            # Chromium asks for /favicon.ico on its own; anything else failing (a CSP block too) is a bug.
            support.watch_errors(page, problems)
            page.goto(f"{hub.url}/supervision/")
            page.fill("input[name=username]", "chen")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/supervision/")
            # 6 requests: 3 completed (2 on time, 1 late), 3 in progress (1 overdue, 1 near due).
            assert page.text_content("#fig-handled") == "6"
            assert page.text_content("#fig-completed") == "3"
            assert page.text_content("#fig-in-progress") == "3"
            # The centre's 按时办结率 is over 承办件: DB-03 on time, FP-02 late (FP-01 is a 即办件).
            assert page.text_content("#fig-on-time-rate") == "50.0%"
            assert page.text_content("#fig-satisfaction") == "100.0%"
            assert page.locator("svg.chart").count() == 3
            page.screenshot(path=str(SHOTS / "hub-dashboard.png"), full_page=True)

            page.click("text=超期与临近")
            assert codes[2] in page.inner_text("table.watch >> nth=0")
            assert codes[5] in page.inner_text("table.watch >> nth=1")

            page.goto(f"{hub.url}/fleet/")
            assert "注册后超过" not in page.content()  # enrolled just now: not yet silent
            row = page.locator("tr", has_text="杏花村")
            row.locator("input[name=confirm]").fill("杏花村")
            row.locator("button", has_text="停用").click()
            page.wait_for_url("**/fleet/")
            assert "已停用 杏花村 的代办点" in page.content()
            page.fill("form.enrol input[name=village]", "杏花村")
            page.click("form.enrol button[type=submit]")
            code = page.text_content("#enrol-code") or ""
            assert len(code) == 14
            assert code[4] == code[9] == "-"
            assert enrolment.parse_code(code)
            qr_width = page.eval_on_selector(".enrol-code img", "img => img.naturalWidth")
            assert qr_width > 0  # the data: URI QR code rendered under the page's CSP
            assert "已停用" in page.inner_text("table.fleet")
            page.screenshot(path=str(SHOTS / "hub-fleet.png"), full_page=True)
            page.goto(f"{hub.url}/supervision/audit")
            trail = page.content()
            assert "哈希链完整" in trail
            assert "新建账号" in trail
            assert "停用代办点" in trail
            assert "同步批次入库" in trail
            assert problems == []
        assert (SHOTS / "hub-dashboard.png").stat().st_size > 10_000
        verified = hub.cli("verify-audit").stdout
        assert "审计日志完好" in verified  # staff.created, codes, enrolments, batches, actions, logins, revoke
