"""Staff login: success, wrong password, lockout, CSRF, cookie flags and headers."""

from __future__ import annotations


import pytest

from hub.models import Staff
from hub.staff import StaffError, create_user
from tests.support import csrf_of


def login(client, username: str, password: str):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_login_logout_and_cookie_flags(hub_client) -> None:
    create_user("wang", "王芳", "secret-pass", "staff", ["W05"])
    resp = login(hub_client, "wang", "secret-pass")
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert hub_client.get("/login").status_code == 200
    assert (
        hub_client.post(
            "/logout", data={"csrf_token": csrf_of(hub_client.get("/login").get_data(as_text=True))}
        ).status_code
        == 302
    )


def test_wrong_password_then_lockout(hub_client) -> None:
    create_user("li", "李强", "right-pass", "staff", ["W09"])
    for _ in range(5):
        resp = login(hub_client, "li", "wrong-pass")
        assert resp.status_code == 401
        assert "用户名或密码错误" in resp.get_data(as_text=True)
    resp = login(hub_client, "li", "right-pass")
    assert resp.status_code == 401
    assert "锁定" in resp.get_data(as_text=True)


def test_login_without_csrf_token_refused(hub_client) -> None:
    create_user("zhao", "赵敏", "secret-pass")
    resp = hub_client.post("/login", data={"username": "zhao", "password": "secret-pass"})
    assert resp.status_code == 400
    assert Staff.get(Staff.username == "zhao").failed_logins == 0


def test_bad_accounts_refused(hub_app) -> None:  # its own database, not whatever the last test left bound
    with pytest.raises(StaffError):
        create_user("x", "X", "short")
    with pytest.raises(StaffError):
        create_user("y", "Y", "long-enough", windows=["W99"])
