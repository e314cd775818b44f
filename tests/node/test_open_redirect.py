"""Open redirects on the node: the language switch and the login's next= stay on this node."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.node.conftest import PASSWORD, ClerkActions

BYPASSES = [
    "/\t/evil.example",
    "/\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "\t//evil.example",
    "http:evil.example",
    "javascript:alert(1)",
]


def test_the_reported_request(node_app) -> None:
    resp = node_app.test_client().get("/lang/en?next=/%09/evil.example")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login"


@pytest.mark.parametrize("target", BYPASSES)
def test_lang_next_stays_on_site(node_app, target: str) -> None:
    resp = node_app.test_client().get(f"/lang/en?next={quote(target, safe='')}")
    assert resp.headers["Location"] == "/login"


def test_lang_keeps_a_path(node_app) -> None:
    resp = node_app.test_client().get("/lang/en?next=%2Fstatus")
    assert resp.headers["Location"] == "/status"


@pytest.mark.parametrize("target", BYPASSES)
def test_login_next_stays_on_site(node_app, clerk_account, target: str) -> None:
    actions = ClerkActions(node_app.test_client())
    resp = actions.client.post(
        f"/login?next={quote(target, safe='')}",
        data={"username": "li", "password": PASSWORD, "csrf_token": actions.token()},
    )
    assert resp.status_code == 302
    assert "evil" not in resp.headers["Location"]
    assert resp.headers["Location"].startswith("/")
    assert not resp.headers["Location"].startswith("//")


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
