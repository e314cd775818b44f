"""Node sessions end server-side: a copied cookie is refused after logout, password change, lockout and disabling."""

from __future__ import annotations

from typing import Any

from node.auth import MAX_FAILURES, set_active, set_password
from tests.node.conftest import ClerkActions

PAGE = "/"


def _copy_cookie(node_app: Any, victim: ClerkActions) -> Any:
    thief = node_app.test_client()
    thief.set_cookie("session", victim.client.get_cookie("session").value)
    assert thief.get(PAGE).status_code == 200, "the copied cookie must work before the session ends"
    return thief


def _refused(client: Any) -> None:
    resp = client.get(PAGE)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_logout_ends_copied_session(node_app, clerk) -> None:  # type: ignore[no-untyped-def]
    thief = _copy_cookie(node_app, clerk)
    assert clerk.post("/logout", {}).status_code == 302
    _refused(thief)
    _refused(clerk.client)


def test_password_change_ends_copied_session(node_app, clerk) -> None:  # type: ignore[no-untyped-def]
    thief = _copy_cookie(node_app, clerk)
    with node_app.app_context():
        set_password("li", "new-password-9")
    _refused(thief)
    assert ClerkActions(node_app.test_client()).login(password="new-password-9").status_code == 302


def test_lockout_ends_copied_session(node_app, clerk) -> None:  # type: ignore[no-untyped-def]
    thief = _copy_cookie(node_app, clerk)
    other = ClerkActions(node_app.test_client())
    for _ in range(MAX_FAILURES):
        assert other.login(password="wrong-password").status_code == 401
    _refused(thief)


def test_disabling_ends_copied_session(node_app, clerk) -> None:  # type: ignore[no-untyped-def]
    thief = _copy_cookie(node_app, clerk)
    with node_app.app_context():
        set_active("li", False)
        set_active("li", True)
    _refused(thief)
