"""Every window, every item, in Chromium (1366×768) against a real hub and a real village node.

The admin adds a request kind and an item of it on 林业 (W14), then staffs the window; the village
node receives the new catalogue, captures the item, and the new window's staff receive it. A
housing item the township only examines (JF-02 危房改造) is passed up to the county and recorded as
answered with the county's document number; the village node's request page and the public status
page show each step. Screenshots go to var/screenshots/ (`make screenshots`: docs/screenshots/).
"""

from __future__ import annotations

from pathlib import Path

import requests

from tests import support

SHOTS = support.SCREENSHOTS
PASSWORD = "window-pass-1"
DOC_NO = "×住建〔2026〕15号"


def _clerk_page(node: support.Service, code: str) -> str:
    """The clerk's page of one request on the node, over a logged-in session."""
    s = requests.Session()
    token = support.csrf_of(s.get(node.url + "/login").text)
    resp = s.post(
        node.url + "/login", data={"username": "li", "password": PASSWORD, "csrf_token": token}, allow_redirects=False
    )
    assert resp.status_code == 302
    return s.get(f"{node.url}/requests/{code}").text


def test_new_kind_on_forestry_staffed_and_housing_answered_by_the_county(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    staff = [support.Staff("admin", "刘管理", role="admin"), support.Staff("wang", "王芳", windows="W09")]
    with support.village(tmp_path, staff, PASSWORD, clerk_password=PASSWORD) as village:
        hub, node = village.hub, village.node
        with support.chromium() as browser:
            errors: list[str] = []

            def new_page(username: str):
                page = support.watch_errors(browser.new_page(viewport={"width": 1366, "height": 768}), errors)
                support.log_in(page, hub.url, username, PASSWORD)
                return page

            # 1. The admin adds a kind and an item of it on 林业, then staffs the window.
            admin = new_page("admin")
            admin.goto(f"{hub.url}/admin/catalogue")
            expect(admin.locator("body")).to_contain_text("默认，待核对")
            admin.fill("input[name=new_kind_code]", "GL")
            admin.fill("input[name=new_kind_name]", "公益林补偿")
            admin.click("form[action$='/catalogue/kinds'] button[type=submit]")
            expect(admin.locator("body")).to_contain_text("已保存：事项目录第 2 版")
            admin.goto(f"{hub.url}/admin/catalogue/item/new")
            admin.fill("input[name=code]", "GL-01")
            admin.fill("input[name=name]", "生态公益林补偿资金申领")
            admin.select_option("select[name=window]", "W14")
            admin.select_option("select[name=mode]", "processed")
            admin.fill("input[name=time_limit_days]", "15")
            admin.fill("textarea[name=legal_basis]", "《中华人民共和国森林法》")
            admin.fill("textarea[name=procedure]", "农户申请 → 林业窗口核实 → 发放补偿资金")
            admin.fill("textarea[name=materials]", "M-ID|身份证|是\nM-FOREST-CERT|林权证或林地承包合同|是")
            admin.click("form.item-form button[type=submit]")
            row = admin.locator("tr", has_text="生态公益林补偿资金申领").first
            expect(row).to_contain_text("公益林补偿")
            expect(row).to_contain_text("林业")
            expect(row).not_to_contain_text("默认，待核对")
            admin.screenshot(path=str(SHOTS / "hub-catalogue-admin.png"), full_page=True)
            admin.goto(f"{hub.url}/admin/staff")
            admin.fill("input[name=username]", "lin")
            admin.fill("input[name=name]", "林强")
            admin.fill("input[name=password]", PASSWORD)
            admin.check("form[action$='/admin/staff'] input[name=window][value=W14]")
            admin.click("form[action$='/admin/staff'] button[type=submit]")
            expect(admin.locator("body")).to_contain_text("已新增工作人员 林强")
            admin.screenshot(path=str(SHOTS / "hub-staff-admin.png"), full_page=True)

            # The node takes the new catalogue on its next sync and captures the new item.
            node.cli("sync")
            forest = village.capture("GL-01", name="林大山", catalogue=_node_catalogue(node))
            housing = village.capture("JF-02", name="赵秀兰")
            node.cli("sync")
            lin = new_page("lin")
            row = lin.locator(f"tr[data-code='{forest}']")
            expect(row).to_contain_text("林大山")
            expect(row).to_contain_text("林强")
            row.locator("a").click()
            expect(lin.locator("h1")).to_contain_text("生态公益林补偿资金申领")
            lin.click("button[value=accept]")
            expect(lin.locator("article.paper h1")).to_have_text("事项受理通知单")

            # 2. 危房改造: examined, passed up, answered by the county with its document number.
            wang = new_page("wang")
            wang.goto(f"{hub.url}/console/case/{housing}")
            wang.click("button[value=accept]")
            wang.goto(f"{hub.url}/console/case/{housing}")
            expect(wang.locator("button[value=approve]")).to_have_count(0)
            wang.click("#pass-up button[type=submit]")
            expect(wang.locator(".facts .state").first).to_have_text("初审通过·已报县级")
            expect(wang.locator(".facts .clock").first).to_contain_text("等待县级批复")
            node.cli("sync")
            assert village.state(housing) == "passed_up"
            wang.fill("#county-answer input[name=doc_no]", DOC_NO)
            wang.fill("#county-answer input[name=doc_date]", _today_china())
            wang.click("#county-answer button[type=submit]")
            expect(wang.locator(".facts .state").first).to_have_text("县级批准")
            expect(wang.locator(".county-doc")).to_have_text(DOC_NO)
            wang.screenshot(path=str(SHOTS / "hub-county-answer.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 360, "height": 640})
            phone.goto(f"{hub.url}/status?code={housing}&tail=8000")
            expect(phone.locator(".state")).to_have_text("县级批准")
            expect(phone.locator("body")).to_contain_text(DOC_NO)
            assert not errors, errors
        node.cli("sync")
        assert village.state(housing) == "county_approved"
        clerk = _clerk_page(node, housing)
        assert "初审通过·已报县级" in clerk
        assert "县级批准" in clerk
        assert DOC_NO in clerk


def _today_china() -> str:
    from datetime import datetime, timedelta, timezone

    return datetime.now(timezone(timedelta(hours=8))).date().isoformat()


def _node_catalogue(node: support.Service):
    """The catalogue the node holds now (the item added at the hub is in it after a sync)."""
    import json
    import os
    import subprocess
    import sys

    from shared.catalogue import Catalogue

    script = (
        "import json\nfrom node import create_app\nfrom node.db import database\nfrom node import meta\n"
        "create_app()\nwith database.connection_context():\n    print(json.dumps(meta.get('catalogue')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=support.ROOT,
        env={**os.environ, "DAIBAN_NODE_DIR": str(node.data_dir)},
        timeout=60,
    )
    return Catalogue(json.loads(out.stdout.strip().splitlines()[-1]))
