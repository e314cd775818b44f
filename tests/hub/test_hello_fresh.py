"""A signed hello counts once, within the freshness window; a node with a wrong clock still resumes (issue 11)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hub.enrolment import issue_code
from hub.freshness import WINDOW
from hub.models import HelloNonce, Node
from node.db import database as node_db
from node.enrolment import enroll
from node.sync import SyncClient, SyncReport
from shared import encoding, protocol
from tests.apptransport import AppTransport
from tests.factories import capture
from tests.nodesim import NodeSim


@pytest.fixture
def sim(hub_client) -> NodeSim:
    node = NodeSim(hub_client, issue_code("桃源村"))
    node.send(node.events(("request.captured", protocol.new_id(), capture("DB-01", name="王五"))))
    return node


def hello(sim: NodeSim, **fields: Any) -> tuple[int, dict[str, Any]]:
    body = protocol.poll_body(sim.node_id, 0, kind="hello", catalogue_version=1, app_version="t")
    body.update(fields)
    return sim.post(protocol.seal(sim.key, body))


def stale(status: int, resp: dict[str, Any]) -> bool:
    return status == 409 and resp["error"]["code"] == "stale_hello" and "history" not in resp


def test_fresh_hello_answers_with_history_once(sim: NodeSim) -> None:
    body = protocol.poll_body(sim.node_id, 0, kind="hello", catalogue_version=1, app_version="t")
    raw = protocol.seal(sim.key, body)
    status, resp = sim.post(raw)
    assert status == 200
    assert resp["history"][0]["data"]["applicant"]["name"] == "王五"
    assert stale(*sim.post(raw))
    # A poll is not affected (it carries no history; cursors make its replay harmless to state).
    assert sim.poll()["last_seq"] == 1


@pytest.mark.parametrize(
    "shift", [-WINDOW - timedelta(seconds=5), WINDOW + timedelta(seconds=5), timedelta(days=-3), timedelta(days=400)]
)
def test_hello_outside_the_window_is_refused(sim: NodeSim, shift: timedelta) -> None:
    assert stale(*hello(sim, node_clock=protocol.iso(protocol.utcnow() + shift)))


def test_hello_inside_the_window_is_accepted(sim: NodeSim) -> None:
    status, resp = hello(sim, node_clock=protocol.iso(protocol.utcnow() - WINDOW + timedelta(seconds=20)))
    assert status == 200
    assert resp["history"]


@pytest.mark.parametrize(
    "fields",
    [
        {"nonce": None},
        {"nonce": ""},
        {"nonce": 5},
        {"nonce": "x" * 65},
        {"node_clock": None},
        {"node_clock": "1900-01-01T00:00:00.000000Z"},
        {"node_clock": "9999-12-31T23:59:59.999999Z"},
        {"node_clock": "0001-01-01T00:00:00Z"},
        {"node_clock": "yesterday"},
        {"node_clock": 1700000000},
    ],
)
def test_hostile_hello_fields_are_refused_not_500(sim: NodeSim, fields: dict[str, Any]) -> None:
    before = Node.get().clock_offset_s
    status, resp = hello(sim, **fields)
    # Malformed fields stop at the declaration (bad_body), well-formed stale ones at the window.
    assert stale(status, resp) or (status == 400 and resp["error"]["code"] == "bad_body"), resp
    assert "history" not in resp
    assert Node.get().clock_offset_s == before


def test_old_nonces_are_forgotten(sim: NodeSim) -> None:
    HelloNonce.create(
        node_id=sim.node_id, nonce="old-one-x", seen_at=protocol.utcnow().replace(tzinfo=None) - 3 * WINDOW
    )
    assert hello(sim)[0] == 200
    assert [n.nonce for n in HelloNonce.select()] != ["old-one-x"]
    assert HelloNonce.select().count() == 1


def test_node_with_a_wrong_clock_resumes_on_the_hub_time(hub_app, node_app, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = AppTransport(hub_app.test_client())
    key = node_app.extensions["daiban_node_key"]
    with node_db.connection_context():
        enroll(transport, key, issue_code("桃源村"), "http://hub.test")
    # The PC's clock is two hours behind: what the node signs with when it uses its own clock.
    real = protocol.poll_body

    def behind(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clock") is None:
            kwargs["clock"] = protocol.utcnow() - timedelta(hours=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(protocol, "poll_body", behind)
    client = SyncClient(transport, key)
    client.resume(SyncReport())
    hellos = [encoding.parse(raw)["body"] for path, raw in transport.sent if path == "/api/v1/sync"]
    assert len(hellos) == 2
    assert client.resume_checked
    # The retry was signed on the hub's clock; the first one showed the hub the PC's real offset.
    assert abs(protocol.parse_iso(hellos[1]["node_clock"]) - protocol.utcnow()) < timedelta(minutes=1)
    assert abs(protocol.parse_iso(hellos[0]["node_clock"]) - protocol.utcnow()) > timedelta(hours=1)
