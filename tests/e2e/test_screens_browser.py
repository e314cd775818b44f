"""Issue 18, "things a screen says that are not true" and "progress on long work", in Debian's Chromium.

One real hub and one real node (processes over HTTP); the node reaches the hub through a
fault-injecting link (tests/faultlink.py) so the tests can take the network away, and slow it
to 2G speed to watch a long sync. The clerk's node at 1024×768, the centre's console at
1366×768, the villager's phone at 375×667 with JavaScript off. The tests run in file order and
share the one world. Screenshots: var/screenshots/screens-*.png (`make screenshots`: docs/).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any, Iterator

import pytest
import requests

from tests import support
from tests.factories import capture
from tests.faultlink import FaultLink

SHOTS = support.SCREENSHOTS
PASSWORD = "screens-pass-2026"
NODE = {"width": 1024, "height": 768}
HUB = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 667}
REASON = "申请人不属于本镇户籍，请到户籍所在地申请"

# One worker runs the whole module in a parallel run (tests/conftest.py ONE_WORKER_MODULES).
pytestmark = pytest.mark.browser


def _capture(world: dict[str, Any], item: str, **kw: Any) -> str:
    resp = requests.post(
        f"{world['node'].url}/api/v1/requests",
        json=capture(item, **kw),
        headers={"Authorization": f"Bearer {world['token']}"},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["receipt_code"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("screens")
    hub = support.make_hub(tmp)
    hub.cli("add-user", "wang", "--name", "王芳", "--windows", "W05,W09", "--password", PASSWORD)
    hub.start()
    link = FaultLink(hub.port).start()
    node = support.Service(
        "node", tmp / "node", support.free_port(), extra=["--no-sync"], env={"DAIBAN_NODE_BUNDLE_WAIT_SECONDS": "0"}
    )  # a bundle always shows its page
    node.data_dir.mkdir(parents=True)
    token = re.search(r"API token: (\S+)", node.cli("init").stdout).group(1)  # type: ignore[union-attr]
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    node.cli("enroll", "--hub", link.url, "--code", code)
    node.cli("add-clerk", "li", "--name", "李文书", "--password", PASSWORD)
    node.start()
    try:
        with support.chromium() as browser:
            yield {"hub": hub, "node": node, "link": link, "token": token, "browser": browser, "tmp": tmp}
    finally:
        node.stop()
        link.stop()
        hub.stop()


def _clerk(world: dict[str, Any], **kw: Any) -> Any:
    page = world["browser"].new_page(viewport=NODE, locale="zh-CN", **kw)
    support.log_in(page, world["node"].url, "li", PASSWORD)
    page.wait_for_url(world["node"].url + "/")
    return page


def _staff(world: dict[str, Any]) -> Any:
    page = world["browser"].new_page(viewport=HUB, locale="zh-CN")
    support.log_in(page, world["hub"].url, "wang", PASSWORD)
    page.wait_for_load_state()
    return page


def _villager(world: dict[str, Any], code: str) -> Any:
    """The node's public status page on a phone, JavaScript off, looked up by code and phone tail."""
    context = world["browser"].new_context(viewport=PHONE, java_script_enabled=False, locale="zh-CN")
    phone = context.new_page()
    phone.goto(world["node"].url + "/status")
    phone.fill("#code", code)
    phone.fill("#tail", "8000")
    phone.click("button[type=submit]")
    return phone


def test_offline_the_village_screens_say_what_is_true(world: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    world["link"].down = True  # the township is unreachable from here on, until the next test
    waiting = _capture(world, "DB-01", missing=["M-HUKOU"], name="刘晓红")
    world["complete"] = _capture(world, "DB-01", name="赵大伯")
    world["refused"] = _capture(world, "JF-01", name="钱二婶")
    world["waiting"] = waiting
    page = _clerk(world)
    page.goto(world["node"].url + "/sync")
    page.click("button:has-text('立即同步')")
    expect(page.locator(".flash.error")).to_contain_text("同步失败")

    # The one-time notice: saved here, not yet sent, and when it was last tried.
    page.goto(f"{world['node'].url}/requests/{waiting}/notice")
    delivery = page.locator("#delivery")
    expect(delivery).to_contain_text("已保存在本代办点，尚未送达乡镇中心")
    expect(delivery).to_contain_text(re.compile(r"最近一次尝试发送：\d{4}-\d\d-\d\d"))
    expect(delivery).not_to_contain_text("已提交")
    page.screenshot(path=str(SHOTS / "screens-offline-notice.png"), full_page=True)

    # The request page: no 办结时限 while materials are missing, and no "中心要求补正" the hub never made.
    page.goto(f"{world['node'].url}/requests/{waiting}")
    expect(page.locator(".status-box")).not_to_contain_text("前办结")
    expect(page.locator(".status-box")).not_to_contain_text("已接收")
    expect(page.locator("#hub-asked")).to_have_count(0)

    # Every page says, quietly, that the last sync failed and how long the oldest record has waited.
    for path in ("/", "/capture", f"/requests/{waiting}", "/attention", "/messages"):
        page.goto(world["node"].url + path)
        banner = page.locator("#sync-banner")
        expect(banner).to_contain_text("上次同步未成功")
        expect(banner).to_contain_text("最早一条未上传的记录已等待")
    page.goto(world["node"].url + "/")
    page.screenshot(path=str(SHOTS / "screens-sync-banner.png"), full_page=True)
    page.close()

    # The villager's empty status page claims nothing "as of" anything.
    context = world["browser"].new_context(viewport=PHONE, java_script_enabled=False, locale="zh-CN")
    phone = context.new_page()
    phone.goto(world["node"].url + "/status")
    assert "以上信息截至" not in phone.inner_text("body")
    expect(phone.locator("#result")).to_have_count(0)
    phone.screenshot(path=str(SHOTS / "screens-status-empty.png"), full_page=True)
    context.close()


def _set_batch_bytes(world: dict[str, Any], limit: int) -> None:
    """Smaller batches (as after a proxy's 413) so a few dozen records take several exchanges."""
    db = sqlite3.connect(world["node"].data_dir / "node.sqlite3", timeout=30)
    with db:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('batch_bytes', ?)", (json.dumps(limit),))
    db.close()


def test_a_long_sync_shows_done_remaining_and_an_estimate(world: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    world["bulk"] = [_capture(world, "JF-01", name=f"孙{'一二三四五六七八九十'[i % 10]}{i}") for i in range(30)]
    _set_batch_bytes(world, 8 * 1024)
    link = world["link"]
    link.heal()
    link.bytes_per_s = 3_000  # 2G
    link.rates = {"throttle": 1.0}
    clicker, watcher = _clerk(world), _clerk(world)
    clicker.goto(world["node"].url + "/sync")
    clicker.click("button:has-text('立即同步')", no_wait_after=True)  # this tab waits for the round

    progress = watcher.locator("#progress")
    deadline = time.monotonic() + 60  # the first batch is on its way within seconds on the throttled link
    while time.monotonic() < deadline:
        watcher.goto(world["node"].url + "/sync?watch=1")
        if progress.count() and re.search(r"^[1-9]", watcher.inner_text("#progress-done")):
            break
        time.sleep(0.5)
    expect(progress).to_contain_text("正在同步")
    done, left = watcher.inner_text("#progress-done"), watcher.inner_text("#progress-left")
    n_done = int(re.match(r"(\d+) 条记录", done).group(1))  # type: ignore[union-attr]
    n_left = int(re.match(r"(\d+) 条记录", left).group(1))  # type: ignore[union-attr]
    assert n_done > 0, (done, left)
    assert n_left > 0, (done, left)
    assert n_done + n_left >= 30, (done, left)
    assert re.search(r"KB|B）", done)
    assert "状态更新" in left
    expect(watcher.locator("#progress-eta")).to_contain_text(re.compile(r"约 \d+ (秒|分)"))
    assert watcher.locator("meta[http-equiv=refresh]").count() == 1  # refreshes itself, no script
    watcher.screenshot(path=str(SHOTS / "screens-sync-progress.png"), full_page=True)

    # The page's own refresh brings the end: what the round did, and the banner is gone.
    last = watcher.locator("#progress-last")
    expect(last).to_contain_text("上次同步", timeout=180_000)
    expect(last).to_contain_text(re.compile(r"已上传 (\d+) / \1 条记录"))
    expect(watcher.locator("#sync-banner")).to_have_count(0)
    assert watcher.locator("meta[http-equiv=refresh]").count() == 0
    expect(clicker.locator(".flash").first).to_contain_text("同步完成", timeout=60_000)
    clicker.close()
    watcher.close()
    link.heal()

    # In a terminal, `daiban node sync` prints the same line as it goes (stderr; stdout keeps the summary).
    for name in ("周甲", "周乙", "周丙"):
        _capture(world, "JF-01", name=name)
    out = world["node"].cli("sync", check=False)
    assert out.returncode == 0, out.stderr
    assert re.search(r"已上传 3 / 3 条记录（[\d.]+ K?B / [\d.]+ K?B），收到状态更新 \d+ 条，用时 \d+ 秒", out.stderr), (
        out.stderr
    )
    assert out.stdout.startswith("同步完成：")


def test_the_hubs_one_time_notice_and_what_the_village_then_shows(world: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    code = world["complete"]
    desk = _staff(world)
    desk.goto(f"{world['hub'].url}/console/case/{code}")
    form = "form:has(input[value=ask_materials])"
    desk.check(f"{form} input[name=missing][value='M-HUKOU']")
    desk.check(f"{form} input[name=missing][value='M-INCOME']")
    desk.click("button[value=ask_materials]")
    paper = desk.locator("article.paper")
    expect(paper.locator("h1")).to_have_text("一次性告知单（补正材料）")
    expect(paper).to_contain_text("提交的“农村最低生活保障申请”（回执码")
    assert "申请申请" not in paper.inner_text()
    assert "申请”申请" not in paper.inner_text()
    desk.screenshot(path=str(SHOTS / "screens-hub-one-time-notice.png"), full_page=True)
    world["node"].cli("sync")

    clerk = _clerk(world)
    url = f"{world['node'].url}/requests/{code}"
    clerk.goto(url)
    expect(clerk.locator("#hub-asked")).to_contain_text("户口簿")
    expect(clerk.locator("#hub-asked")).to_contain_text("家庭收入及财产状况声明")
    expect(clerk.locator("#clock")).to_contain_text("补正期间不计时")
    # A partial supplement: the village and the hub list the same remainder.
    clerk.check("form[action$='/supplement'] input[value='M-HUKOU']")
    clerk.click("form[action$='/supplement'] button[type=submit]")
    expect(clerk.locator("#still-missing")).to_contain_text("家庭收入及财产状况声明")
    expect(clerk.locator("#still-missing")).not_to_contain_text("户口簿")
    world["node"].cli("sync")
    desk.goto(f"{world['hub'].url}/console/case/{code}")
    expect(desk.locator(".history")).to_contain_text("尚缺：家庭收入及财产状况声明")
    clerk.goto(url)
    expect(clerk.locator("#still-missing")).to_contain_text("家庭收入及财产状况声明")
    expect(clerk.locator("#still-missing")).not_to_contain_text("户口簿")
    expect(clerk.locator("body")).not_to_contain_text("尚缺材料 无")
    clerk.screenshot(path=str(SHOTS / "screens-partial-supplement.png"), full_page=True)
    clerk.close()
    desk.close()


def test_a_closed_case_shows_no_running_deadline(world: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    code = world["refused"]
    world["hub"].cli("act", code, "refuse", "--actor", "wang", "--reason", REASON, "--basis", "行政许可法第三十二条")
    world["node"].cli("sync")
    clerk = _clerk(world)
    clerk.goto(f"{world['node'].url}/requests/{code}")
    expect(clerk.locator(".status-box .state")).to_contain_text("不予受理")
    expect(clerk.locator("#clock")).to_have_count(0)
    expect(clerk.locator(".status-box")).not_to_contain_text("办结时限")
    clerk.goto(world["node"].url + f"/?q={code}")
    expect(clerk.locator("main")).not_to_contain_text(re.compile(r"\d{4}-\d\d-\d\d 前办结"))
    clerk.close()
    phone = _villager(world, code)
    expect(phone.locator("#state")).to_have_text("不予受理")
    expect(phone.locator("#deadline")).to_have_count(0)
    expect(phone.locator("#reason")).to_contain_text(REASON)
    expect(phone.locator("#next-steps")).to_contain_text("行政复议")
    phone.screenshot(path=str(SHOTS / "screens-status-closed.png"), full_page=True)
    phone.context.close()
    desk = _staff(world)
    desk.goto(f"{world['hub'].url}/console/case/{code}")
    expect(desk.locator("td.clock")).to_have_text("已终结，不再计时")
    desk.close()

    # Withdrawn at the villager's wish: once the hub has it, no deadline anywhere, no "正常".
    withdrawn = world["bulk"][0]
    clerk = _clerk(world)
    clerk.goto(f"{world['node'].url}/requests/{withdrawn}")
    expect(clerk.locator("#clock")).to_contain_text("前办结")  # received and complete: its clock runs
    clerk.fill("#reason", "申请人决定暂不办理")
    clerk.click("button:has-text('撤回')")
    world["node"].cli("sync")
    clerk.goto(f"{world['node'].url}/requests/{withdrawn}")
    expect(clerk.locator(".status-box .state")).to_contain_text("已撤回")
    expect(clerk.locator("#clock")).to_have_count(0)
    expect(clerk.locator(".status-box")).not_to_contain_text("正常")
    clerk.close()
    phone = _villager(world, withdrawn)
    expect(phone.locator("#state")).to_have_text("已撤回")
    expect(phone.locator("#deadline")).to_have_count(0)
    phone.context.close()


def test_usb_bundles_show_their_progress_and_wait_on_their_page(world: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    world["link"].down = True
    _capture(world, "JF-01", name="吴老汉")
    page = _clerk(world, accept_downloads=True)
    page.goto(world["node"].url + "/sync")
    page.click("button:has-text('导出U盘同步包')")
    page.wait_for_url(world["node"].url + "/sync/bundle")
    # The page refreshes itself (meta refresh) until the file is ready, then offers it.
    ready = page.locator("#bundle-ready")
    expect(ready).to_contain_text(re.compile(r"同步包已做好：1 条记录、0 个附件，\d+ K?B"), timeout=60_000)
    expect(page.locator("#progress-last")).to_contain_text("上次导出")
    expect(page.locator("#progress-last")).to_contain_text("已处理 1 / 1 条记录")
    page.screenshot(path=str(SHOTS / "screens-bundle-ready.png"), full_page=True)
    with page.expect_download() as got:
        page.click("#bundle-download")
    bundle = world["tmp"] / got.value.suggested_filename
    assert bundle.name.startswith("daiban-桃源村-")
    got.value.save_as(str(bundle))
    reply = world["tmp"] / "reply.bundle"
    assert "接收事件 1" in world["hub"].cli("import-bundle", str(bundle), "--out", str(reply)).stdout

    page.goto(world["node"].url + "/sync")
    page.set_input_files("#bundle-file", str(reply))
    page.click("button:has-text('导入回复包')")
    page.wait_for_url(world["node"].url + "/sync/bundle")
    expect(page.locator(".flash").first).to_contain_text("已导入回复包：中心确认事件 1", timeout=60_000)
    expect(page.locator("#progress-last")).to_contain_text("上次导入")
    expect(page.locator("#progress-last")).to_contain_text("已处理 1 / 1 条记录")
    page.screenshot(path=str(SHOTS / "screens-bundle-imported.png"), full_page=True)
    page.close()
    world["link"].heal()
