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
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_logout_ends_copied_session(node_app, clerk) -> None:
    thief = _copy_cookie(node_app, clerk)
    assert clerk.post("/logout", {}).status_code == 302
    _refused(thief)
    _refused(clerk.client)


def test_password_change_ends_copied_session(node_app, clerk) -> None:
    thief = _copy_cookie(node_app, clerk)
    with node_app.app_context():
        set_password("li", "new-password-9")
    _refused(thief)
    assert ClerkActions(node_app.test_client()).login(password="new-password-9").status_code == 302


def test_lockout_ends_copied_session(node_app, clerk) -> None:
    thief = _copy_cookie(node_app, clerk)
    other = ClerkActions(node_app.test_client())
    for _ in range(MAX_FAILURES):
        assert other.login(password="wrong-password").status_code == 401
    _refused(thief)


def test_disabling_ends_copied_session(node_app, clerk) -> None:
    thief = _copy_cookie(node_app, clerk)
    with node_app.app_context():
        set_active("li", False)
        set_active("li", True)
    _refused(thief)


def test_cli_password_change_and_disabling_end_sessions(node_app, clerk) -> None:
    from click.testing import CliRunner

    from node.cli import cli

    thief = _copy_cookie(node_app, clerk)
    data_dir = node_app.config["DATA_DIR"]
    run = CliRunner().invoke(cli, ["--dir", data_dir, "set-password", "li", "--password", "fresh-pass-77"])
    assert run.exit_code == 0, run.output
    _refused(thief)
    fresh = ClerkActions(node_app.test_client())
    assert fresh.login(password="fresh-pass-77").status_code == 302
    run = CliRunner().invoke(cli, ["--dir", data_dir, "disable-clerk", "li"])
    assert run.exit_code == 0, run.output
    _refused(fresh.client)
