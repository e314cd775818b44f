"""Long work shows what is done and what remains (issue 18): the sync page, the bundle page, the terminal line."""

from __future__ import annotations

import re
from typing import Iterator

import pytest

from node import centre, progress
from node.capture import capture_request
from node.db import database
from tests.factories import capture as made
from tests.node.test_capture_views import capture


@pytest.fixture(autouse=True)
def no_operation_left_over() -> Iterator[None]:
    yield
    if progress.current() is not None:
        progress.finish("test ended")


def test_sync_page_shows_done_remaining_and_estimate_and_refreshes_itself(clerk) -> None:
    progress.begin("sync", 5000, 5_000_000)
    progress.advance(1200, 1_200_000)
    progress.received(300, 9700)
    html = clerk.client.get("/sync?watch=1").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3;url=/sync?watch=1">' in html
    done = re.search(r'id="progress-done">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    left = re.search(r'id="progress-left">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    assert done == "1200 条记录（1171 KB），状态更新 300 条"
    assert left == "3800 条记录（3710 KB），状态更新 9700 条"
    assert re.search(r'id="progress-eta">(约 \d+ 秒|约 \d+ 分 \d+ 秒|正在估算)<', html)
    # The page's own refresh does not start yet another round; "立即同步" shows the running one.
    resp = clerk.post("/sync/now", {}, page="/sync")
    assert resp.headers["Location"].endswith("/sync?watch=1")
    assert "后台正在同步，进度见本页上方" in clerk.client.get(resp.headers["Location"]).get_data(as_text=True)


def test_before_the_hub_is_asked_the_updates_still_to_come_are_not_claimed_as_none(clerk) -> None:
    progress.begin("sync", 10, 10_000)
    progress.advance(3, 3000)
    html = clerk.client.get("/sync?watch=1").get_data(as_text=True)
    left = re.search(r'id="progress-left">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    assert left == "7 条记录（7000 B），状态更新：上传完后向中心询问"
    assert "上传完后接收状态更新" in progress.line(progress.current())  # type: ignore[arg-type]


def test_finished_round_says_what_it_did_and_stops_refreshing(clerk) -> None:
    progress.begin("sync", 2, 900)
    progress.advance(2, 900)
    progress.finish()
    html = clerk.client.get("/sync?watch=1").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html
    last = re.search(r'id="progress-last">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    assert "上次同步" in last
    assert "已上传 2 / 2 条记录" in last


def test_bundle_page_shows_a_running_export_and_then_its_download(clerk, node_app) -> None:
    resp = clerk.client.get("/sync/bundle")  # nothing exported or imported yet: the sync page has the USB section
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/sync")
    progress.begin("export", 40, 40_000)
    progress.advance(10, 10_000)
    html = clerk.client.get("/sync/bundle").get_data(as_text=True)
    assert 'http-equiv="refresh" content="3"' in html
    assert "正在导出U盘同步包" in html
    assert re.search(r'id="progress-left">30 条记录（29 KB）<', html)
    progress.finish()


def test_slow_export_goes_to_the_bundle_page_and_the_file_waits_there(clerk, node_app) -> None:
    node_app.config["BUNDLE_WAIT_SECONDS"] = 0  # as if building took longer than the request waits
    capture(clerk)
    resp = clerk.post("/sync/bundle/export", {}, page="/sync")
    assert resp.status_code == 302
    # Not enrolled: the failure is said on the panel or on the bundle page, whichever the clerk sees first.
    html = clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
    for _ in range(50):
        if "导出失败" in html:
            break
        html = clerk.client.get("/sync/bundle").get_data(as_text=True)
    assert "导出失败" in html
    assert "尚未注册" in html
    assert clerk.client.get("/sync/bundle/export/file").status_code in (200, 302)


def test_terminal_line_redraws_in_place_and_logs_one_line_per_change() -> None:
    lines: list[str] = []
    stop = progress.listen(progress.terminal_printer(lines.append, is_tty=True, every=0))
    try:
        progress.begin("sync", 10, 10_240)
        progress.advance(4, 4096)
        progress.finish()
    finally:
        stop()
    assert lines[0].startswith("\r已上传 0 / 10 条记录")
    assert lines[1].startswith("\r已上传 4 / 10 条记录（4096 B / 10 KB）")
    assert lines[-1].endswith("\n")
    assert "已上传 4 / 10 条记录" in lines[-1]
    logged: list[str] = []
    stop = progress.listen(progress.terminal_printer(logged.append, is_tty=False, every=0))
    try:
        progress.begin("sync", 1, 10)
        progress.finish()
    finally:
        stop()
    assert all(x.endswith("\n") and "\r" not in x for x in logged)


def test_estimate_is_work_left_at_the_pace_so_far() -> None:
    p = progress.Progress(
        "sync", started=100.0, started_at="", records_total=5000, records_done=1000, updates_done=0, updates_left=10_000
    )
    assert p.estimate_seconds(now=130.0) == 420  # 1000 done in 30 s; 14 000 left
    assert progress.Progress("sync", 100.0, "", records_total=5).estimate_seconds(now=130.0) is None


@pytest.mark.parametrize(
    "phone,address,wrong",
    [
        ("0731-8888<script>", "青山镇人民路 18 号", "电话"),
        ("12", "青山镇人民路 18 号", "电话"),
        ("0731-8888 6666", "", "地址"),
        ("0731-8888 6666", "青" * 101, "地址"),
        ("0731-8888 6666", "青山镇\x00人民路", "地址"),
    ],
)
def test_centre_contact_refuses_what_cannot_be_printed(node_app, phone: str, address: str, wrong: str) -> None:
    with node_app.app_context(), database.connection_context():
        centre.set_contact("0731-8888 6666", "青山镇人民路 18 号")
        with pytest.raises(centre.CentreError, match=wrong):
            with database.atomic():
                centre.set_contact(phone, address)
        assert centre.contact() == {"phone": "0731-8888 6666", "address": "青山镇人民路 18 号"}


def test_receipt_carries_the_centre_contact(clerk, node_app) -> None:
    req = capture(clerk)
    html = clerk.client.get(f"/requests/{req.receipt_code}/receipt").get_data(as_text=True)
    assert 'id="centre-contact"' not in html
    with node_app.app_context(), database.connection_context():
        centre.set_contact(" 0731-8888  6666 ", "青山镇人民路 18 号便民服务大厅")
    for paper in ("a5", "a4", "80mm", "58mm"):
        html = clerk.client.get(f"/requests/{req.receipt_code}/receipt?paper={paper}").get_data(as_text=True)
        assert "0731-8888 6666" in html, paper
        assert "青山镇人民路 18 号便民服务大厅" in html, paper


def test_the_queue_is_counted_in_the_bytes_it_holds(node_app) -> None:
    """A size on the page is bytes: Chinese text counts three bytes a character, not one."""
    with database.connection_context():
        capture_request(made("JF-01"), "李文书")
        stored = [bytes(r[0]) for r in database.execute_sql('SELECT CAST("data" AS BLOB) FROM "event"').fetchall()]
        assert progress.queued_totals() == (len(stored), sum(map(len, stored)))
        assert sum(map(len, stored)) > sum(len(b.decode()) for b in stored)
