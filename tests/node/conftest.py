"""Fixtures for the clerk's web UI: a clerk account and a logged-in test client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from tests.support import csrf_of as csrf_of  # re-exported: this app's tests take it from here

import pytest

PASSWORD = "correct-horse-9"


class ClerkActions:
    """What a clerk does in the browser, over the Flask test client."""

    def __init__(self, client: Any):
        self.client = client

    def token(self, path: str = "/login") -> str:
        return csrf_of(self.client.get(path).data)

    def login(self, username: str = "li", password: str = PASSWORD) -> Any:
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": self.token()})

    def post(self, path: str, data: dict[str, Any], page: str = "/") -> Any:
        """POST a form with the CSRF token taken from a page, as a browser would."""
        return self.client.post(path, data={**data, "csrf_token": self.token(page)})


@pytest.fixture
def clerk_account(node_app):
    """A clerk 李文书 (username li) on the node."""
    from node.auth import add_clerk

    with node_app.app_context():
        return add_clerk("li", "李文书", PASSWORD)


@pytest.fixture
def clerk(node_app, clerk_account) -> ClerkActions:
    """A logged-in clerk's test client."""
    actions = ClerkActions(node_app.test_client())
    resp = actions.login()
    assert resp.status_code == 302, resp.data
    return actions


def capture_form(item_code: str = "JF-01", missing: Sequence[str] = (), **over: str) -> dict[str, Any]:
    """The posted capture form for an item, from the catalogue, leaving some materials unticked."""
    from shared.catalogue import Catalogue
    from tests.factories import FIELD_VALUES, id_number

    item = Catalogue.default().item(item_code)
    assert item is not None
    form: dict[str, Any] = {
        "applicant.name": "王建国",
        "applicant.id_number": id_number(),
        "applicant.phone": "13912345678",
        "applicant.address": "桃源村三组12号",
        "applicant.group": "三组",
        "submit": "send",
        "brought": [m["code"] for m in item["materials"] if m["code"] not in missing],
    }
    for spec in item["fields"]:
        form[f"fields.{spec['key']}"] = FIELD_VALUES[spec["type"]]
    form.update(over)
    return form
