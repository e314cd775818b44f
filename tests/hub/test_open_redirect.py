"""Open redirects: the login's next= never sends staff to another site, whatever the browser would make of it."""

from __future__ import annotations

from urllib.parse import quote


from hub.staff import create_user
from tests.hub.console_support import csrf_of
from tests.open_redirects import BYPASSES


def test_login_next_stays_on_site(hub_app) -> None:
    create_user("wang", "王芳", "secret-pass", "staff", ["W05"])
    went = {}
    for target in BYPASSES:  # a fresh client (not logged in) per target, one app for all
        client = hub_app.test_client()
        token = csrf_of(client.get("/login").get_data(as_text=True))
        resp = client.post(
            f"/login?next={quote(target, safe='')}",
            data={"username": "wang", "password": "secret-pass", "csrf_token": token},
        )
        went[target] = (resp.status_code, resp.headers.get("Location"))
    # A target holding U+0000 is refused before the login reads it (shared/request_values): nowhere to go.
    expected = {t: (400, None) if "\x00" in t else (302, "/") for t in BYPASSES}
    assert {t: answer for t, answer in went.items() if answer != expected[t]} == {}


def test_the_reported_request(hub_client) -> None:
    create_user("li", "李强", "secret-pass", "staff", ["W05"])
    token = csrf_of(hub_client.get("/login").get_data(as_text=True))
    resp = hub_client.post(
        "/login?next=%2F%09%2Fevil.example", data={"username": "li", "password": "secret-pass", "csrf_token": token}
    )
    assert resp.headers["Location"] == "/"


def test_a_path_on_site_is_kept(hub_client) -> None:
    create_user("zhou", "周", "secret-pass", "staff", ["W05"])
    token = csrf_of(hub_client.get("/login").get_data(as_text=True))
    resp = hub_client.post(
        "/login?next=%2Fconsole%2Fqueue", data={"username": "zhou", "password": "secret-pass", "csrf_token": token}
    )
    assert resp.headers["Location"] == "/console/queue"


def test_the_reported_request_on_a_real_hub(tmp_path) -> None:

    import requests

    from tests.support import make_hub

    hub = make_hub(tmp_path)
    hub.cli("add-user", "wang", "--name", "王芳", "--password", "secret-pass")
    hub.start()
    try:
        browser = requests.Session()
        token = csrf_of(browser.get(hub.url + "/login", timeout=10).text)
        resp = browser.post(
            hub.url + "/login?next=%2F%09%2Fevil.example",
            data={"username": "wang", "password": "secret-pass", "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert resp.status_code == 302
        assert resp.headers["Location"] == "/"
    finally:
        hub.stop()
