"""Session cookies are Secure where the hub is served over HTTPS: the production settings and nginx say so."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.support import ROOT, make_hub
from tests.support import csrf_of

DEPLOY = Path(ROOT) / "deploy" / "hub"


def _production_env() -> dict[str, str]:
    env = {}
    for line in (DEPLOY / "hub.env.example").read_text().splitlines():
        m = re.match(r"(DAIBAN_HUB_SESSION_COOKIE_SECURE)=(\S+)$", line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


def _login_cookie(hub_url: str) -> str:
    page = requests.get(hub_url + "/login", timeout=10)
    token = csrf_of(page.text)
    # Sent by hand: a cookie jar rightly keeps a Secure cookie off plain HTTP, and the test has no TLS.
    session = re.search(r"session=([^;]+)", page.headers["Set-Cookie"]).group(1)  # type: ignore[union-attr]
    resp = requests.post(
        hub_url + "/login",
        data={"username": "wang", "password": "secret-pass", "csrf_token": token},
        headers={"Cookie": f"session={session}"},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302, resp.text
    return resp.headers["Set-Cookie"]


def test_production_settings_make_the_session_cookie_secure(tmp_path: Path) -> None:
    env = _production_env()
    assert env == {"DAIBAN_HUB_SESSION_COOKIE_SECURE": "true"}, "hub.env.example turns Secure cookies on"
    hub = make_hub(tmp_path)
    hub.cli("add-user", "wang", "--name", "王芳", "--password", "secret-pass")
    hub.env.update(env)
    hub.start()
    try:
        cookie = _login_cookie(hub.url)
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
    finally:
        hub.stop()


def test_plain_lan_hub_without_the_setting_keeps_a_usable_cookie(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    hub.cli("add-user", "wang", "--name", "王芳", "--password", "secret-pass")
    hub.start()
    try:
        assert "Secure" not in _login_cookie(hub.url)
    finally:
        hub.stop()


def test_shipped_nginx_marks_cookies_secure() -> None:
    conf = (DEPLOY / "nginx-daiban.conf").read_text()
    assert re.search(r"^\s*proxy_cookie_flags ~ secure;", conf, re.MULTILINE)
    assert "return 301 https://" in conf
