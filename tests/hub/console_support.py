"""Helpers for console tests: a logged-in desk, cases synced in by a scripted node, and snapshots."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from click.testing import Result

from hub.models import Assignment, Case, HubEvent, Staff
from hub.staff import create_user
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim
from tests.support import csrf_of as csrf_of  # re-exported: this app's tests take it from here

PASSWORD = "secret-pass"


def hub_cli(app: Any, *args: str) -> Result:
    """`daiban hub ARGS` run in process on this test's hub app: its data folder and database."""
    from hub.cli import cli

    return CliRunner().invoke(
        cli, ["--dir", app.config["DATA_DIR"], *args], env={"DATABASE_URL": app.config["DATABASE_URL"]}
    )


class Desk:
    """A test client logged in as one staff member, posting forms with the page's CSRF token."""

    def __init__(
        self,
        app: Any,
        username: str,
        name: str = "",
        role: str = "staff",
        windows: list[str] | None = None,
        create: bool = True,
    ):
        if create:
            create_user(username, name or username, PASSWORD, role, windows or [])
        self.client = app.test_client()
        self.username = username
        token = csrf_of(self.client.get("/login").get_data(as_text=True))
        resp = self.client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)

    def get(self, path: str, **kw: Any):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, Any], page: str = "/console/staff"):
        """POST a form with a valid CSRF token taken from a page this user may see."""
        token = csrf_of(self.client.get(page).get_data(as_text=True))
        return self.client.post(path, data={**data, "csrf_token": token})

    def act(self, code: str, action: str, **fields: Any):
        return self.post(f"/console/case/{code}/act", {"action": action, **fields})


def new_case(sim: NodeSim, item: str = "JF-01", *, missing: list[str] | None = None, name: str = "张三") -> str:
    """Capture one request on the scripted node, sync it in, return its receipt code."""
    data = capture(item, missing=missing, name=name)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    sim.send(sim.events(("request.captured", protocol.new_id(), data)))
    return data["receipt_code"]


def supplement(sim: NodeSim, code: str, materials: list[str]) -> dict[str, Any]:
    """The village sends a 补正 for a case."""
    case = Case.get(Case.receipt_code == code)
    return sim.send(sim.events(("request.supplemented", case.request_id, {"materials": materials})))


def snapshot() -> tuple:
    """Everything a refused action must leave untouched."""
    cases = [
        (
            c.request_id,
            c.state,
            c.assignee,
            c.deadline,
            c.paused_since,
            c.paused_days,
            tuple(c.materials_missing or []),
            c.closed_at,
        )
        for c in Case.select().order_by(Case.request_id)
    ]
    return (
        cases,
        HubEvent.select().count(),
        Assignment.select().count(),
        [(s.username, s.on_duty) for s in Staff.select().order_by(Staff.username)],
    )
