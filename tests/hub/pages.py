"""Helpers for hub page tests: log in as a role, read CSRF tokens, pin the hub's clock, seed cases."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

from hub import clock
from hub.staff import create_user
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim
from tests.support import csrf_of as csrf_of  # re-exported: this app's tests take it from here

PASSWORD = "secret-pass"
ROLES = {"staff": ["W05", "W09"], "supervisor": [], "admin": []}


def login_as(client: Any, role: str, username: str | None = None) -> str:
    """Create an account of that role and log the client in; returns the username."""
    username = username or f"{role}1"
    create_user(
        username, {"staff": "王芳", "supervisor": "陈督查", "admin": "刘管理"}[role], PASSWORD, role, ROLES[role]
    )
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return username


def post_form(client: Any, page: str, url: str, data: dict[str, Any]) -> Any:
    """Fetch a page for its CSRF token, then post a form to url."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


@contextmanager
def hub_time(ts: datetime) -> Iterator[None]:
    """Pin the hub's clock (naive UTC) for the block."""
    saved = clock.pinned
    clock.pinned = ts
    try:
        yield
    finally:
        clock.pinned = saved


def captured(sim: NodeSim, item: str = "JF-01", **kw: Any) -> tuple[str, str, dict[str, Any]]:
    """A request.captured event for the simulated node."""
    data = capture(item, **kw)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


def supplemented(request_id: str, materials: list[str]) -> tuple[str, str, dict[str, Any]]:
    """A request.supplemented event (the villager brought the missing materials)."""
    return ("request.supplemented", request_id, {"materials": materials})
