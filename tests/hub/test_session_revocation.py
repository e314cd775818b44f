"""Sessions end server-side: a copied cookie is refused after logout, password change, lockout and disabling."""

from __future__ import annotations

from typing import Any

import pytest

from hub.models import Staff
from hub.staff import MAX_FAILURES, create_user, set_active, set_password
from tests.hub.console_support import hub_cli, PASSWORD, csrf_of

PAGE = "/console/staff"


def _login(client: Any, username: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _copy_cookie(hub_app: Any, victim: Any) -> Any:
    """A second browser holding a copy of the victim's session cookie."""
    thief = hub_app.test_client()
    thief.set_cookie("session", victim.get_cookie("session").value)
    assert thief.get(PAGE).status_code == 200, "the copied cookie must work before the session ends"
    return thief


@pytest.fixture
def victim(hub_app):
    create_user("wang", "王芳", PASSWORD, "staff", ["W05"])
    client = hub_app.test_client()
    assert _login(client, "wang").status_code == 302
    return client


def _refused(client: Any) -> None:
    resp = client.get(PAGE)
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_logout_ends_copied_session(hub_app, victim) -> None:
    thief = _copy_cookie(hub_app, victim)
    token = csrf_of(victim.get(PAGE).get_data(as_text=True))
    assert victim.post("/logout", data={"csrf_token": token}).status_code == 302
    _refused(thief)
    _refused(victim)


def test_password_change_ends_copied_session(hub_app, victim) -> None:
    thief = _copy_cookie(hub_app, victim)
    set_password(Staff.get(Staff.username == "wang"), "another-pass-1")
    _refused(thief)
    assert _login(hub_app.test_client(), "wang", "another-pass-1").status_code == 302


def test_lockout_ends_copied_session(hub_app, victim) -> None:
    thief = _copy_cookie(hub_app, victim)
    other = hub_app.test_client()
    for _ in range(MAX_FAILURES):
        assert _login(other, "wang", "wrong-pass").status_code == 401
    _refused(thief)


def test_disabling_ends_copied_session_and_reenabling_does_not_revive_it(hub_app, victim) -> None:
    thief = _copy_cookie(hub_app, victim)
    set_active(Staff.get(Staff.username == "wang"), False)
    _refused(thief)
    set_active(Staff.get(Staff.username == "wang"), True)
    _refused(thief)


def test_a_new_login_after_logout_works(hub_app, victim) -> None:
    token = csrf_of(victim.get(PAGE).get_data(as_text=True))
    victim.post("/logout", data={"csrf_token": token})
    assert _login(victim, "wang").status_code == 302
    assert victim.get(PAGE).status_code == 200


def test_cli_password_change_and_disabling_end_sessions(hub_app, victim) -> None:
    thief = _copy_cookie(hub_app, victim)
    run = hub_cli(hub_app, "set-password", "wang", "--password", "fresh-pass-77")
    assert run.exit_code == 0, run.output
    _refused(thief)
    fresh = hub_app.test_client()
    assert _login(fresh, "wang", "fresh-pass-77").status_code == 302
    run = hub_cli(hub_app, "disable-user", "wang")
    assert run.exit_code == 0, run.output
    _refused(fresh)


def test_copied_cookie_refused_after_logout_on_a_real_hub(tmp_path) -> None:
    """The reported attack as the review ran it: a real hub process, a cookie copied off the wire."""

    import requests

    from tests.support import make_hub

    hub = make_hub(tmp_path)
    hub.cli("add-user", "wang", "--name", "王芳", "--password", PASSWORD)
    hub.start()
    try:
        browser = requests.Session()
        token = csrf_of(browser.get(hub.url + "/login", timeout=10).text)
        resp = browser.post(
            hub.url + "/login",
            data={"username": "wang", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert resp.status_code == 302
        stolen = browser.cookies["session"]
        assert (
            requests.get(hub.url + PAGE, cookies={"session": stolen}, allow_redirects=False, timeout=10).status_code
            == 200
        )
        token = csrf_of(browser.get(hub.url + PAGE, timeout=10).text)
        assert (
            browser.post(hub.url + "/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10).status_code
            == 302
        )
        replay = requests.get(hub.url + PAGE, cookies={"session": stolen}, allow_redirects=False, timeout=10)
        assert replay.status_code == 302
        assert "/login" in replay.headers["Location"]
    finally:
        hub.stop()
