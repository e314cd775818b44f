"""Security headers on every response, and the language switch."""

from __future__ import annotations


from node.security import HEADERS


def test_security_headers_everywhere(clerk, node_app) -> None:
    anon = node_app.test_client()
    responses = [
        anon.get("/login"),
        anon.get("/status"),
        anon.get("/static/node.css"),
        anon.get("/nowhere"),
        anon.get("/healthz"),
        clerk.client.get("/capture/JF-01"),
        clerk.client.get("/"),
    ]
    for resp in responses:
        for name, value in HEADERS.items():
            assert resp.headers.get(name) == value, (resp.request.path, name)
    csp = HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_pages_carry_no_inline_script_or_style(clerk, node_app) -> None:
    from node import meta
    from tests.node.test_capture_views import capture

    with node_app.app_context():
        meta.put("hub_url", "http://hub.example:8700")
    code = capture(clerk, missing=("M-NEIGHBOURS",)).receipt_code
    for path in (
        "/",
        "/capture",
        "/capture/JF-01",
        "/sync",
        "/attention",
        "/status",
        f"/requests/{code}",
        f"/requests/{code}/receipt",
        f"/requests/{code}/notice",
        f"/requests/{code}/hub-notice",
    ):
        html = clerk.client.get(path).get_data(as_text=True)
        assert "<script" not in html, path
        assert "<style" not in html, path
        assert " style=" not in html, path


def test_chinese_by_default_english_by_link(node_app) -> None:
    client = node_app.test_client()
    assert "代办员登录" in client.get("/login").get_data(as_text=True)
    resp = client.get("/lang/en?next=/login")
    assert resp.status_code == 302
    assert "lang=en" in resp.headers["Set-Cookie"]
    assert "Clerk login" in client.get("/login").get_data(as_text=True)
    client.get("/lang/zh_CN?next=/login")
    assert "代办员登录" in client.get("/login").get_data(as_text=True)
    assert client.get("/lang/en?next=//evil.example").headers["Location"] == "/login"


def test_every_clerk_page_renders_in_english(clerk) -> None:
    from tests.node.hubupdates import hub_decides
    from tests.node.test_capture_views import capture

    req = hub_decides(capture(clerk, missing=("M-NEIGHBOURS",)), "accept", "accepted", deadline="2026-12-24")
    clerk.client.set_cookie("lang", "en")
    code = req.receipt_code
    for path in (
        "/",
        "/capture",
        "/capture/JF-01",
        "/sync",
        "/attention",
        f"/requests/{code}",
        f"/requests/{code}/receipt",
        f"/requests/{code}/notice",
        f"/requests/{code}/hub-notice",
    ):
        resp = clerk.client.get(path)
        assert resp.status_code == 200, path
    assert "Needs attention" in clerk.client.get("/").get_data(as_text=True)
