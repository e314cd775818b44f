"""The sync panel in plain words, and "sync now" with the hub unreachable."""

from __future__ import annotations

import re

from node import meta
from node.models import Event
from shared import signing
from tests import support
from tests.node.test_capture_views import capture


def test_panel_shows_queue_and_unenrolled_sync_says_so(clerk) -> None:
    capture(clerk)
    html = clerk.client.get("/sync").get_data(as_text=True)
    queued = re.search(r'id="queued">(\d+) 条记录，(\d+) 字节', html)
    assert queued
    assert queued.group(1) == "1"
    assert int(queued.group(2)) > 100
    assert "从未成功" in html
    assert "后台同步未运行" in html
    resp = clerk.post("/sync/now", {}, page="/sync")
    assert "尚未注册" in clerk.client.get(resp.headers["Location"]).get_data(as_text=True)


def test_sync_now_with_hub_unreachable_keeps_the_queue_and_explains(clerk, node_app) -> None:
    hub_key = signing.generate_key()
    with node_app.app_context():
        meta.put("hub_url", f"http://127.0.0.1:{support.free_port()}")
        meta.put("node_id", "N-test")
        meta.put("hub_pubkey", signing.public_b64(hub_key))
    req = capture(clerk)
    resp = clerk.post("/sync/now", {}, page="/sync")
    html = clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "同步失败：无法连接乡镇中心" in html
    assert re.search(r'id="last-error">无法连接乡镇中心', html)
    assert signing.fingerprint(signing.public_b64(hub_key)) in html
    assert Event.get(Event.request_id == req.request_id).result is None


def test_sync_now_does_not_wait_for_a_running_round(clerk, node_app) -> None:
    from node.sync_panel import _round_lock

    with node_app.app_context():
        meta.put("hub_url", f"http://127.0.0.1:{support.free_port()}")
    with _round_lock:
        resp = clerk.post("/sync/now", {}, page="/sync")
    assert "后台正在同步" in clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
