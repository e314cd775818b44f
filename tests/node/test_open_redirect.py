"""Open redirects on the node: the language switch and the login's next= stay on this node."""

from __future__ import annotations

from urllib.parse import quote


from tests.node.conftest import PASSWORD, ClerkActions
from tests.open_redirects import BYPASSES


def test_the_reported_request(node_app) -> None:
    resp = node_app.test_client().get("/lang/en?next=/%09/evil.example")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login"


def test_lang_next_stays_on_site(node_app) -> None:
    # One app for every target (a fresh one each cost a second apiece): the list names each that went astray.
    went = {t: node_app.test_client().get(f"/lang/en?next={quote(t, safe='')}") for t in BYPASSES}
    # A target holding U+0000 is refused before the view reads it (shared/request_values): nowhere to go.
    expected = {t: (400, None) if "\x00" in t else (302, "/login") for t in BYPASSES}
    answers = {t: (resp.status_code, resp.headers.get("Location")) for t, resp in went.items()}
    assert {t: answer for t, answer in answers.items() if answer != expected[t]} == {}


def test_lang_keeps_a_path(node_app) -> None:
    resp = node_app.test_client().get("/lang/en?next=%2Fstatus")
    assert resp.headers["Location"] == "/status"


def test_login_next_stays_on_site(node_app, clerk_account) -> None:
    went = {}
    for target in BYPASSES:  # a fresh client (not logged in) per target, one app for all
        actions = ClerkActions(node_app.test_client())
        resp = actions.client.post(
            f"/login?next={quote(target, safe='')}",
            data={"username": "li", "password": PASSWORD, "csrf_token": actions.token()},
        )
        went[target] = (resp.status_code, resp.headers.get("Location", ""))
    off_site = lambda where: "evil" in where or not where.startswith("/") or where.startswith("//")  # noqa: E731
    refused = lambda t, status, where: "\x00" in t and (status, where) == (400, "")  # noqa: E731 - request_values
    astray = {
        t: (status, where)
        for t, (status, where) in went.items()
        if not refused(t, status, where) and (status != 302 or off_site(where))
    }
    assert astray == {}


def test_the_reported_request_on_a_real_node(tmp_path) -> None:
    import requests

    from tests.support import Service, free_port

    node = Service("node", tmp_path / "node", free_port(), extra=["--no-sync"])
    node.data_dir.mkdir(parents=True)
    node.cli("init")
    node.start()
    try:
        resp = requests.get(node.url + "/lang/en?next=/%09/evil.example", allow_redirects=False, timeout=10)
        assert resp.status_code == 302
        assert resp.headers["Location"] == "/login"
    finally:
        node.stop()
