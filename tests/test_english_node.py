"""One language policy on the village node: every page in English when asked, Chinese by default.

The same rule as tests/test_english.py (which holds the allow-list helpers): the URL map is walked,
and only seeded user data, the catalogue and the printed official documents may stay Chinese.
"""

from __future__ import annotations

from typing import Any

from node.models import Event
from tests.node.conftest import clerk, clerk_account  # noqa: F401 - fixtures
from tests.test_english import catalogue_strings, get_endpoints, leftovers, masked, seeded_strings

# The node's printed papers that are official documents as a whole (the receipt, the notices, the
# guide): only the screen chrome around them is checked. Their titles are official document titles.
PRINTED = {"capture.receipt", "capture.notice", "notices.hub_notice", "mailbox.receipt", "guide.print_all"}


def node_world(clerk: Any) -> tuple[dict[str, str], set[str]]:  # noqa: F811 - the fixture
    from node.notices import NOTICE_KINDS
    from shared.catalogue import Catalogue
    from tests.node.hubupdates import hub_decides
    from tests.node.test_capture_views import capture

    req = hub_decides(capture(clerk, missing=("M-NEIGHBOURS",)), "accept", "accepted", deadline="2026-12-24")
    clerk.post("/messages", {"category": "complaint", "content": "窗口办事慢", "about": "王芳", "window": "W05"},
               page="/messages")
    message = Event.get(Event.type == "message.left").data["receipt_code"]
    code = req.receipt_code
    urls = {
        "requests.index": "/", "notices.attention": "/attention", "capture.pick": "/capture",
        "capture.form": "/capture/JF-01", "guide.index": "/guide", "guide.item": "/guide/JF-01",
        "guide.print_all": "/guide/print", "auth.login": "/login", "mailbox.index": "/messages",
        "mailbox.receipt": f"/messages/{message}", "requests.detail": f"/requests/{code}",
        "notices.hub_notice": f"/requests/{code}/hub-notice", "capture.notice": f"/requests/{code}/notice",
        "capture.receipt": f"/requests/{code}/receipt", "status.lookup": "/status", "sync_panel.panel": "/sync",
        "bundle_views.page": "/sync/bundle", "bundle_views.export_file": "/sync/bundle/export/file",
    }
    data = set(catalogue_strings(Catalogue.default().to_dict())) | seeded_strings(["JF-01"]) | masked(
        ["李文书", "王建国", "王芳", "桃源村"]) | {"窗口办事慢", "国土与城建"} | set(NOTICE_KINDS.values())
    return urls, data


def test_every_node_page_renders_in_english(node_app, clerk) -> None:  # noqa: F811
    clerk.client.set_cookie("lang", "en")  # before seeding: the flashes it leaves are in English too
    urls, data = node_world(clerk)
    assert set(urls) == get_endpoints(node_app), "a new node page: add it to urls (or to NOT_PAGES with why)"
    found = {}
    for who, client in (("clerk", clerk.client), ("anonymous", node_app.test_client())):
        client.set_cookie("lang", "en")
        for endpoint, url in urls.items():
            resp = client.get(url)
            assert resp.status_code in (200, 302, 404), (who, url, resp.status_code)
            html = resp.get_data(as_text=True)
            if endpoint in PRINTED:
                html = html.split('<main', 1)[0]  # the screen chrome around the printed paper
            if left := leftovers(html, data):
                found[f"{who} {url} {resp.status_code}"] = left
    assert not found, "\n".join(f"{k}: {v[:6]}" for k, v in found.items())


def test_node_is_chinese_without_a_cookie(node_app, clerk) -> None:  # noqa: F811
    html = node_app.test_client().get("/login").get_data(as_text=True)
    assert "代办员登录" in html
    assert "Clerk login" not in html
    assert "待处理" in clerk.client.get("/").get_data(as_text=True)
