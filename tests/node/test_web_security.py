"""Web security of every node page, found by walking the URL map rather than listing pages by hand.

Hostile text typed by a clerk (names, addresses, notes) or sent down by the hub
(refusal reasons) never renders raw; every response carries the security headers;
every state-changing form needs its CSRF token; login cannot be turned into an
open redirect; the villager's status page answers uniformly, is rate-limited and
shows a masked name only.
"""

from __future__ import annotations

import re
from typing import Any

from tests.hub.test_web_security import HOSTILE_NAME, HOSTILE_TEXT, check_body, check_headers
from tests.node.conftest import PASSWORD, csrf_of


def hostile_request(node_app) -> Any:
    """A capture with attacks in its text fields, then a hub refusal whose reason is one too."""
    from node.apply import apply_updates
    from node.capture import capture_request
    from node.db import database
    from tests.factories import capture

    form = capture("JF-01", name=HOSTILE_NAME)
    form["applicant"]["address"] = HOSTILE_TEXT[:100]
    form["notes"] = HOSTILE_TEXT
    with database.connection_context():
        req = capture_request(form, "李文书")
        with database.atomic():
            apply_updates(
                [
                    {
                        "cseq": 1,
                        "type": "case.status",
                        "request_id": req.request_id,
                        "state": "refused",
                        "reason": HOSTILE_TEXT,
                        "legal_basis": HOSTILE_TEXT,
                        "note": HOSTILE_TEXT,
                        "action": "refuse",
                        "at": "2026-11-26T08:00:00Z",
                        "window": "W09",
                        "window_name": HOSTILE_TEXT[:40],
                        "missing": [],
                        "missing_names": [HOSTILE_TEXT],
                    }
                ]
            )
    return req


def fill(rule: Any, code: str) -> str | None:
    values = {"code": "en" if rule.rule.startswith("/lang/") else code, "item_code": "JF-01", "event_pk": "1"}
    if any(arg not in values for arg in rule.arguments):
        return None
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(r"<(?:[a-z]+:)?" + arg + ">", values[arg], url)
    return url


def test_every_page_escapes_hostile_text_and_sends_security_headers(node_app, clerk) -> None:
    req = hostile_request(node_app)
    seen = []
    for rule in node_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith("/lang/"):
            continue
        url = fill(rule, req.receipt_code)
        if url is None:
            continue
        resp = clerk.client.get(url)
        assert resp.status_code < 500, f"{url}: {resp.status_code}"
        check_headers(url, resp)
        if resp.mimetype == "text/html":
            check_body(url, resp.get_data(as_text=True))
        seen.append(url)
    assert f"/requests/{req.receipt_code}" in seen
    assert f"/requests/{req.receipt_code}/hub-notice" in seen
    page = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_every_state_changing_form_needs_a_csrf_token(node_app, clerk) -> None:
    from node.db import database
    from node.models import Event, Request

    req = hostile_request(node_app)

    def state() -> tuple:
        with database.connection_context():
            return (
                Event.select().count(),
                sorted((r.receipt_code, r.state, r.needs_attention) for r in Request.select()),
            )

    before = state()
    checked = []
    for rule in node_app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        url = fill(rule, req.receipt_code)
        assert url is not None, rule.rule
        resp = clerk.client.post(
            url,
            data={
                "materials": "M-ID",
                "satisfaction": "满意",
                "code": req.receipt_code,
                "tail": "1234",
                "username": "li",
                "password": PASSWORD,
            },
        )
        assert resp.status_code == 400, f"{url} took a form without a CSRF token ({resp.status_code})"
        checked.append(url)
        assert state() == before, url
    assert len(checked) >= 8


def test_session_cookie_flags(node_app, clerk_account) -> None:
    """The login's cookie; where its next= may send the clerk is tests/node/test_open_redirect.py's, target by target."""
    client = node_app.test_client()
    token = csrf_of(client.get("/login").data)
    resp = client.post("/login", data={"username": "li", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie, cookie
    assert "SameSite=Lax" in cookie, cookie


def test_status_page_uniform_rate_limited_and_masked(node_app) -> None:
    from shared.receipt_codes import new_code

    req = hostile_request(node_app)
    client = node_app.test_client()

    def look(code: str, tail: str) -> Any:
        token = csrf_of(client.get("/status").data)
        return client.post("/status", data={"code": code, "tail": tail, "csrf_token": token})

    from node.capture import capture_request
    from node.db import database
    from tests.factories import capture

    with database.connection_context():
        plain = capture_request(capture("DB-01", name="王秀英"), "李文书")
    tail = req.phone[-4:]
    wrong = "0000" if tail != "0000" else "1111"
    found = look(plain.receipt_code, plain.phone[-4:]).get_data(as_text=True)
    assert "王" in found, "the request was found, with the surname"
    for secret in ("王秀英", "秀英", plain.id_number, plain.phone, "三组12号"):
        assert secret not in found, f"public page shows {secret!r}"
    check_body("/status", look(req.receipt_code, tail).get_data(as_text=True))

    def scrub(html: bytes) -> bytes:
        return re.sub(rb'name="csrf_token" value="[^"]+"', b"", html)

    misses = [look(req.receipt_code, wrong), look(new_code(req.receipt_code[:2]), tail), look("22ABC", wrong)]
    assert len({(r.status_code, scrub(r.data)) for r in misses}) == 1
    statuses = [look(new_code("22"), "1234").status_code for _ in range(8)]
    assert statuses[-1] == 429
    assert look(req.receipt_code, tail).status_code == 429
