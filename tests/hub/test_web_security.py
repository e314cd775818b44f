"""Web security of every hub page, found by walking the URL map rather than listing pages by hand.

A page added later is checked too: security headers (CSP without inline script,
frame-ancestors, Referrer-Policy), no stored XSS from names and notes a village
typed, CSRF on every state-changing form, session cookie flags, no open redirect
after login, and the public status page gives uniform, rate-limited answers that
show a masked name only.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.enrolment import issue_code
from hub.models import Case
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.hub.console_support import Desk, snapshot
from tests.nodesim import NodeSim

pytestmark = pytest.mark.parametrize("hub_db_url", ["sqlite"], indirect=True)

HOSTILE_NAME = "王<img src=x onerror=alert(1)>"
HOSTILE_TEXT = '</textarea><script>alert("备注")</script>"\'&<svg onload=alert(3)>'
RAW_MARKERS = ("<img src=x", "<script>alert", "<svg onload", "</textarea><script")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)


def hostile_case(sim: NodeSim) -> Case:
    """A request whose name, address and notes are attacks, synced in like any other."""
    data = capture("JF-01", name=HOSTILE_NAME)
    data["applicant"]["address"] = HOSTILE_TEXT[:100]
    data["notes"] = HOSTILE_TEXT
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    resp = sim.send(sim.events(("request.captured", protocol.new_id(), data)))
    assert resp["ack"]["accepted"] == 1, resp["ack"]
    return Case.get(Case.receipt_code == data["receipt_code"])


def check_headers(path: str, resp: Any) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    assert csp, f"{path}: no Content-Security-Policy"
    script_src = re.search(r"script-src ([^;]*)", csp)
    scripts = script_src.group(1) if script_src else re.search(r"default-src ([^;]*)", csp).group(1)  # type: ignore[union-attr]
    assert "'unsafe-inline'" not in scripts, f"{path}: {csp}"
    assert "'unsafe-eval'" not in scripts, f"{path}: {csp}"
    assert "frame-ancestors 'none'" in csp or resp.headers.get("X-Frame-Options") == "DENY", path
    assert resp.headers.get("Referrer-Policy"), path
    assert resp.headers.get("X-Content-Type-Options", "nosniff") == "nosniff", path


def check_body(path: str, html: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{path}: stored XSS, {marker!r} rendered raw"
    assert not INLINE_SCRIPT.search(html), f"{path}: inline <script> (CSP would block it, so it is broken anyway)"
    assert not INLINE_HANDLER.search(html), f"{path}: inline event handler attribute"


def fill(rule: Any, code: str) -> str | None:
    """A concrete URL for a rule, with its arguments taken from the hostile case."""
    values = {"code": "JF-01" if "catalogue" in rule.rule else code, "cseq": "1", "fork_id": "1", "username": "admin"}
    if any(arg not in values for arg in rule.arguments):
        return None
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(r"<(?:[a-z]+:)?" + arg + ">", values[arg], url)
    return url


def test_every_page_escapes_hostile_text_and_sends_security_headers(hub_app) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    case = hostile_case(sim)
    admin = Desk(hub_app, "admin", "管理员", role="admin")
    seen = []
    for rule in hub_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = fill(rule, case.receipt_code)
        if url is None:
            continue
        resp = admin.get(url)
        assert resp.status_code < 500, f"{url}: {resp.status_code}"
        check_headers(url, resp)
        if resp.mimetype == "text/html":
            check_body(url, resp.get_data(as_text=True))
        seen.append(url)
    assert f"/console/case/{case.receipt_code}" in seen
    assert "/supervision/" in seen
    assert "/status" in seen
    # The hostile text did reach the pages, escaped.
    page = admin.get(f"/console/case/{case.receipt_code}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_every_state_changing_form_needs_a_csrf_token(hub_app) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    case = hostile_case(sim)
    admin = Desk(hub_app, "admin", "管理员", role="admin")
    before = snapshot()
    checked = []
    for rule in hub_app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        url = fill(rule, case.receipt_code)
        assert url is not None, rule.rule
        form = {
            "action": "accept",
            "village": "桃源村",
            "username": "x",
            "password": "x",
            "name": "x",
            "role": "admin",
            "windows": "W01",
        }
        resp = admin.client.post(url, data=form)
        assert resp.status_code == 400, f"{url} took a form without a CSRF token ({resp.status_code})"
        checked.append(url)
        assert snapshot() == before, url
    assert len(checked) >= 10


def test_session_cookie_flags(hub_app) -> None:
    """The login's cookie; where its next= may send staff is tests/hub/test_open_redirect.py's, target by target."""
    from tests.hub.console_support import PASSWORD, csrf_of
    from hub.staff import create_user

    create_user("li", "李", PASSWORD, "staff", ["W09"])
    client = hub_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": "li", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie, cookie
    assert "SameSite=Lax" in cookie, cookie


def test_status_page_uniform_rate_limited_and_masked(hub_app) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    case = hostile_case(sim)
    plain = capture("DB-01", name="王秀英")
    plain["receipt_code"] = new_code(sim.prefix)
    plain["catalogue_version"] = 1
    sim.send(sim.events(("request.captured", protocol.new_id(), plain)))
    client = hub_app.test_client()
    tail = case.phone[-4:]
    wrong_tail = "0000" if tail != "0000" else "1111"
    found = client.get(f"/status?code={plain['receipt_code']}&tail={tail}").get_data(as_text=True)
    for secret in ("王秀英", "秀英", plain["applicant"]["id_number"], plain["applicant"]["phone"], "三组12号"):
        assert secret not in found, f"public page shows {secret!r}"
    assert "王" in found, "the masked name keeps the surname"
    check_body("/status", client.get(f"/status?code={case.receipt_code}&tail={tail}").get_data(as_text=True))
    # A wrong phone tail on a real code and an unknown code: the same status and the same bytes.
    misses = [
        client.get(f"/status?code={c}&tail={t}")
        for c, t in ((case.receipt_code, wrong_tail), (new_code(sim.prefix), tail), (new_code("9Z"), wrong_tail))
    ]
    assert len({(r.status_code, r.get_data()) for r in misses}) == 1
    limit = int(hub_app.config.get("STATUS_LOOKUP_LIMIT", 10))
    statuses = [client.get(f"/status?code={new_code(sim.prefix)}&tail=1234").status_code for _ in range(limit)]
    assert statuses[-1] == 429, "enumeration must hit the rate limit"
    # Once limited, even the right answer is withheld: nothing to learn by trying.
    assert client.get(f"/status?code={case.receipt_code}&tail={tail}").status_code == 429


def test_the_csrf_check_is_asked_the_method_first(hub_app) -> None:
    # hub.auth replaces Flask-WTF's hook, found by its name: if it no longer is, GETs pay the stock check again.
    hooks = hub_app.before_request_funcs[None]
    assert not [h for h in hooks if getattr(h, "__module__", "") == "flask_wtf.csrf"]
    ours = [h for h in hooks if h.__name__ == "csrf_protect"]
    assert len(ours) == 1
    assert ours[0].__module__ == "hub.auth"
    client = hub_app.test_client()
    assert client.get("/status").status_code == 200
    assert client.post("/status/rate", data={"code": "X", "tail": "1234", "level": "满意"}).status_code == 400
