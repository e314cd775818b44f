"""Clerk accounts and login: hashing, cookies, lockout, CSRF, and the add-clerk command."""

from __future__ import annotations

from datetime import timedelta

from node.auth import LOCKOUT, MAX_FAILURES
from node.capture import now
from node.models import Clerk, Event, Request
from tests import support
from tests.node.conftest import PASSWORD, ClerkActions, capture_form


def test_login_sets_a_safe_session_cookie_and_logout_ends_it(node_app, clerk_account) -> None:
    actions = ClerkActions(node_app.test_client())
    resp = actions.login()
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "李文书" in actions.client.get("/").get_data(as_text=True)
    resp = actions.post("/logout", {})
    assert resp.status_code == 302
    assert actions.client.get("/").status_code == 302


def test_password_is_stored_hashed(node_app, clerk_account) -> None:
    stored = Clerk.get(Clerk.username == "li").password_hash
    assert PASSWORD not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))


def test_pages_need_login(node_app) -> None:
    client = node_app.test_client()
    for path in ("/", "/capture", "/capture/JF-01", "/attention", "/sync"):
        resp = client.get(path)
        assert resp.status_code == 302
        assert resp.headers["Location"].startswith("/login")


def test_wrong_password_is_refused_and_changes_nothing_else(node_app, clerk_account) -> None:
    actions = ClerkActions(node_app.test_client())
    resp = actions.login(password="wrong-password")
    assert resp.status_code == 401
    assert "用户名或密码不正确" in resp.get_data(as_text=True)
    assert actions.client.get("/").status_code == 302
    assert Clerk.get(Clerk.username == "li").failed_logins == 1
    assert Request.select().count() == 0
    assert Event.select().count() == 0


def test_unknown_user_gets_the_same_message(node_app, clerk_account) -> None:
    resp = ClerkActions(node_app.test_client()).login(username="nobody", password="whatever1")
    assert resp.status_code == 401
    assert "用户名或密码不正确" in resp.get_data(as_text=True)


def test_lockout_after_five_failures_persists_and_expires(node_app, clerk_account) -> None:
    actions = ClerkActions(node_app.test_client())
    for _ in range(MAX_FAILURES):
        resp = actions.login(password="wrong-password")
    assert "锁定" in resp.get_data(as_text=True)
    locked = Clerk.get(Clerk.username == "li").locked_until
    assert locked is not None
    assert locked > now() + LOCKOUT - timedelta(minutes=1)
    # Even the right password is refused while locked, and the lock is in the database.
    resp = actions.login()
    assert resp.status_code == 401
    assert "锁定" in resp.get_data(as_text=True)
    Clerk.update(locked_until=now() - timedelta(seconds=1)).where(Clerk.username == "li").execute()
    assert actions.login().status_code == 302


def test_missing_csrf_token_is_refused_and_nothing_saved(clerk) -> None:
    resp = clerk.client.post("/capture/JF-01", data=capture_form())
    assert resp.status_code == 400
    assert "校验码" in resp.get_data(as_text=True)
    assert Request.select().count() == 0
    assert Event.select().count() == 0
    resp = clerk.client.post("/login", data={"username": "li", "password": PASSWORD})
    assert resp.status_code == 400


def test_login_next_stays_on_this_node(node_app, clerk_account) -> None:
    actions = ClerkActions(node_app.test_client())
    resp = actions.client.post(
        "/login?next=//evil.example/x", data={"username": "li", "password": PASSWORD, "csrf_token": actions.token()}
    )
    assert resp.headers["Location"] == "/"


def test_add_clerk_command(tmp_path) -> None:
    data = tmp_path / "node"
    out = support.daiban(
        "node", "--dir", str(data), "add-clerk", "wang", "--name", "王文书", "--password", "long-enough-1"
    )
    assert "王文书" in out.stdout
    bad = support.daiban(
        "node", "--dir", str(data), "add-clerk", "wang", "--name", "王文书", "--password", "long-enough-1", check=False
    )
    assert bad.returncode != 0
    assert "已存在" in bad.stderr
    short = support.daiban(
        "node", "--dir", str(data), "add-clerk", "zhao", "--name", "赵", "--password", "short", check=False
    )
    assert short.returncode != 0
    assert "至少" in short.stderr


def test_a_clerk_name_with_a_control_character_is_refused(node_app) -> None:
    """The name travels in every event the clerk makes, and the hub refuses a batch holding U+0000 whole."""
    import pytest

    from node.auth import ClerkError, add_clerk
    from node.db import database

    with database.connection_context():
        for name in ("李\x00文书", "李\n文书"):
            with pytest.raises(ClerkError):
                add_clerk("li", name, PASSWORD)
        assert Clerk.select().count() == 0


def test_a_form_value_with_u0000_is_refused_before_any_view(clerk) -> None:
    """Whatever a form holds travels to the hub in an event, which refuses a batch holding U+0000 whole."""
    assert clerk.post("/capture/JF-01", capture_form()).status_code == 302
    code = Request.get().receipt_code
    for path, form in (("feedback", {"satisfaction": "满意", "comment": "好\x00"}), ("withdraw", {"reason": "\x00"})):
        resp = clerk.post(f"/requests/{code}/{path}", form)
        assert resp.status_code == 400
        assert "控制字符" in resp.get_data(as_text=True)
    assert Event.select().count() == 1
