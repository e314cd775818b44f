"""Flask-Limiter on the node: failed logins per address across accounts, and status lookups per code."""

from __future__ import annotations

from typing import Any

from node.models import ALL_MODELS
from tests.node.conftest import PASSWORD, ClerkActions, csrf_of
from tests.node.test_capture_views import capture


def test_failed_logins_across_accounts_are_limited_per_address(node_app, clerk_account) -> None:
    node_app.config.update(LOGIN_LIMIT="4 per 15 minutes")
    actions = ClerkActions(node_app.test_client())
    for n in range(4):
        assert actions.login(username=f"guess{n}", password="Spring2026!").status_code == 401
    resp = actions.login()
    assert resp.status_code == 429
    assert "登录尝试过于频繁" in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 0
    other = ClerkActions(node_app.test_client())
    token = other.token()
    ok = other.client.post(
        "/login",
        data={"username": "li", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert ok.status_code == 302


def test_one_codes_tail_cannot_be_guessed_from_many_addresses(clerk, node_app) -> None:
    node_app.config.update(STATUS_CODE_LIMIT="4 per hour", STATUS_LOOKUP_LIMIT=100)
    req = capture(clerk)
    villager = node_app.test_client()

    def look(code: str, tail: str, addr: str) -> Any:
        token = csrf_of(villager.get("/status").data)
        return villager.post(
            "/status", data={"code": code, "tail": tail, "csrf_token": token}, environ_base={"REMOTE_ADDR": addr}
        )

    rows = {m.__name__: m.select().count() for m in ALL_MODELS}
    for n, tail in enumerate(("0001", "0002", "0003", "0004")):
        assert look(req.receipt_code, tail, f"10.9.0.{n}").status_code == 200
    resp = look(req.receipt_code, req.phone[-4:], "10.9.1.1")
    assert resp.status_code == 429
    assert "王**" not in resp.get_data(as_text=True)
    assert {m.__name__: m.select().count() for m in ALL_MODELS} == rows
