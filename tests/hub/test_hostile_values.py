"""Signed messages with hostile values (issue 11 item 6), on SQLite and PostgreSQL.

A node with a valid key sends integers beyond what the columns hold, strings where numbers
belong, identifiers longer than their columns, clocks a century off and event ids built to
collide with the hub's stored keys. Each is a 400 `bad_body` naming the field, or taken
sanely; never a 500, and a refusal leaves stored data as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hub.enrolment import issue_code
from hub.ingest import CLOCK_OFFSET_LIMIT_S
from hub.models import Node, NodeEvent
from shared import protocol
from tests.hub.test_adversarial import captured, refused, snapshot, still_serving
from tests.nodesim import NodeSim

BIG = [2**31, 2**63, 2**64]


@pytest.fixture
def other(hub_client):
    return NodeSim(hub_client, issue_code("杏花村"))


def batch_with(sim: NodeSim, change: Callable[[dict[str, Any]], None]) -> bytes:
    """A batch of one valid capture, altered after it was built and then signed with the node's own key."""
    body, _ = sim.batch(sim.events(captured(sim)))
    change(body)
    return protocol.seal(sim.key, body)


def poll_with(sim: NodeSim, kind: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    body = protocol.poll_body(sim.node_id, 0, kind=kind, catalogue_version=1, app_version="t")
    change(body)
    return protocol.seal(sim.key, body)


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set body[path] (or body["events"][0][key] for "events.0.key") to value."""

    def change(body: dict[str, Any]) -> None:
        target: Any = body
        *parents, last = path.split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[last] = value

    return change


def expect_bad_body(sim: NodeSim, raw: bytes, field: str) -> None:
    before = snapshot()
    status, resp = sim.post(raw)
    refused(status, resp, "bad_body")
    assert resp["error"]["field"] == field, resp["error"]
    assert snapshot() == before, field


def test_integers_beyond_their_columns_are_refused_naming_the_field(sim: NodeSim, other: NodeSim) -> None:
    for value in BIG:
        for field in ("pending", "catalogue_version"):
            expect_bad_body(sim, batch_with(sim, setter(field, value)), field)
            expect_bad_body(sim, poll_with(sim, "poll", setter(field, value)), field)
        if value >= 2**63:
            for field in ("first_seq", "cursor"):
                expect_bad_body(sim, batch_with(sim, setter(field, value)), field)
            expect_bad_body(sim, batch_with(sim, setter("events.0.seq", value)), "events[0].seq")
            expect_bad_body(sim, poll_with(sim, "hello", setter("acked_seq", value)), "acked_seq")
            expect_bad_body(sim, poll_with(sim, "poll", setter("cursor", value)), "cursor")
    for field, value in (("first_seq", -1), ("cursor", -1), ("pending", -5)):
        expect_bad_body(sim, batch_with(sim, setter(field, value)), field)
    still_serving(other)


def test_large_but_storable_integers_are_taken_sanely(sim: NodeSim) -> None:
    """A 64-bit sequence or cursor fits its column: the chain rule answers, the poll is served."""
    before = snapshot()
    status, resp = sim.post(
        batch_with(sim, lambda b: b.update(first_seq=2**31, last_seq=2**31, events=[{**b["events"][0], "seq": 2**31}]))
    )
    refused(status, resp, "sequence_gap")
    assert snapshot() == before
    for kind in ("poll", "hello"):
        status, resp = sim.post(poll_with(sim, kind, lambda b: b.update(cursor=2**62, acked_seq=2**62)))
        assert status == 200, resp
        assert resp["updates"] == []
    assert Node.get(Node.node_id == sim.node_id).reported_cursor == 2**62
    sim.send(sim.events(captured(sim)))  # and the node goes on as before


def test_wrong_types_and_lengths_are_refused_naming_the_field(sim: NodeSim, other: NodeSim) -> None:
    cases: list[tuple[str, Any, str]] = [
        ("catalogue_version", "1", "catalogue_version"),
        ("catalogue_version", None, "catalogue_version"),
        ("pending", True, "pending"),
        ("app_version", "v" * 33, "app_version"),
        ("node_clock", "yesterday", "node_clock"),
        ("prev_hash", "not a hash", "prev_hash"),
        ("events.0.id", "e" * 41, "events[0].id"),
        ("events.0.request_id", "r" * 41, "events[0].request_id"),
        ("events.0.clerk", "文" * 65, "events[0].clerk"),
        ("events.0.type", "t" * 41, "events[0].type"),
        ("events.0.data", [], "events[0].data"),
        ("events.0.extra", "x", "events[0].extra"),
        ("surprise", 1, "surprise"),
    ]
    for path, value, field in cases:
        expect_bad_body(sim, batch_with(sim, setter(path, value)), field)
    expect_bad_body(sim, poll_with(sim, "hello", setter("nonce", "n" * 41)), "nonce")
    expect_bad_body(sim, poll_with(sim, "poll", lambda b: b.pop("cursor")), "cursor")
    expect_bad_body(sim, poll_with(sim, "poll", setter("kind", "batch")), "acked_seq")  # not a batch field
    expect_bad_body(sim, poll_with(sim, "poll", setter("kind", "steal")), "kind")
    still_serving(other)


@pytest.mark.parametrize("year", [1900, 2099])
def test_clock_a_century_off_is_clamped_and_flagged(sim: NodeSim, year: int) -> None:
    from hub.fleet import CLOCK_SKEW_S

    clock = protocol.parse_iso(f"{year}-06-01T00:00:00Z")
    body = protocol.batch_body(
        sim.node_id, sim.events(captured(sim)), sim.last_hash, 0, catalogue_version=1, app_version="t", clock=clock
    )
    status, resp = sim.post(protocol.seal(sim.key, body))
    assert status == 200, resp
    assert resp["ack"]["accepted"] == 1
    sim.advance(body)
    offset = Node.get(Node.node_id == sim.node_id).clock_offset_s
    assert offset == (CLOCK_OFFSET_LIMIT_S if year > 2000 else -CLOCK_OFFSET_LIMIT_S)
    assert abs(offset) > CLOCK_SKEW_S, "the fleet page flags it"
    # Every later message from that node is still served (a hello on that clock is not fresh: refused as such).
    status, resp = sim.post(
        protocol.seal(
            sim.key, protocol.poll_body(sim.node_id, 0, kind="poll", catalogue_version=1, app_version="t", clock=clock)
        )
    )
    assert status == 200, resp
    status, resp = sim.post(
        protocol.seal(
            sim.key, protocol.poll_body(sim.node_id, 0, kind="hello", catalogue_version=1, app_version="t", clock=clock)
        )
    )
    refused(status, resp, "stale_hello")
    assert sim.send(sim.events(captured(sim)))["ack"]["accepted"] == 1


def test_event_ids_cannot_collide_with_stored_refusal_keys(sim: NodeSim, other: NodeSim) -> None:
    """Refused events are stored under a key no event id can take, unique per node and sequence."""
    # An id shaped like the hub's old refusal key is refused as a whole message, before anything is stored.
    expect_bad_body(sim, batch_with(sim, setter("events.0.id", "x~2")), "events[0].id")
    # The same refused id at the same sequence number from two villages: both stored, each once.
    for node in (sim, other):
        ev = node.events(("request.feedback", protocol.new_id(), {"satisfaction": "满意"}))
        ev[0]["id"] = "same-id"
        resp = node.send(ev)
        assert [r["code"] for r in resp["ack"]["results"]] == ["unknown_request"]
    refusals = list(NodeEvent.select().where(NodeEvent.result == "refused"))
    assert len({r.event_id for r in refusals}) == 2
    assert [r.body["id"] for r in refusals] == ["same-id", "same-id"]
    assert all("~" in r.event_id for r in refusals)
    # An accepted event may then take the plain id; a later refusal at any seq never collides with it.
    accepted = sim.events(captured(sim))
    accepted[0]["id"] = "x"
    assert sim.send(accepted)["ack"]["accepted"] == 1
    again = sim.events(("request.feedback", protocol.new_id(), {"satisfaction": "满意"}))
    again[0]["id"] = "x"
    assert [r["code"] for r in sim.send(again)["ack"]["results"]] == ["duplicate_event"]
    still_serving(other)


def test_hostile_event_data_is_refused_for_that_event_only(sim: NodeSim) -> None:
    """Event data beyond its declaration is refused per event and told to the village; the chain moves on."""
    from hub.models import Case

    cap = captured(sim)
    sim.send(sim.events(cap))
    request_id = cap[1]
    hostile: list[tuple[str, dict[str, Any], str]] = [
        ("request.feedback", {"satisfaction": "很好"}, "bad_feedback"),
        ("request.feedback", {"satisfaction": "满意", "comment": "长" * 501}, "bad_feedback"),
        ("request.supplemented", {"materials": [1]}, "bad_materials"),
        ("request.supplemented", {"materials": ["M" * 41]}, "bad_materials"),
        ("request.withdrawn", {"reason": "因" * 201}, "bad_reason"),
    ]
    resp = sim.send(sim.events(*[(type_, request_id, data) for type_, data, _ in hostile]))
    assert [r["code"] for r in resp["ack"]["results"]] == [code for _, _, code in hostile]
    case = Case.get_by_id(request_id)
    assert case.state == "received"
    assert case.satisfaction is None
    ok = sim.send(sim.events(("request.feedback", request_id, {"satisfaction": "满意", "comment": "好" * 500})))
    assert ok["ack"]["accepted"] == 1
    assert Case.get_by_id(request_id).satisfaction == "满意"


def test_a_nul_character_in_any_text_is_refused_naming_the_field(sim: NodeSim, other: NodeSim) -> None:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): refused alike on both, before anything is stored."""
    cases: list[tuple[str, Any, str]] = [
        ("app_version", "1.0\x00", "app_version"),
        ("events.0.clerk", "李\x00文书", "events[0].clerk"),
        ("events.0.type", "request.\x00captured", "events[0].type"),
        ("events.0.data.applicant.address", "\x00", "events[0].data.applicant.address"),
    ]
    for path, value, field in cases:
        expect_bad_body(sim, batch_with(sim, setter(path, value)), field)
    expect_bad_body(sim, poll_with(sim, "hello", setter("app_version", "\x00")), "app_version")
    expect_bad_body(sim, poll_with(sim, "poll", setter("nonce", "n\x00")), "nonce")

    def attachment_named(body: dict[str, Any]) -> None:
        data = {"sha256": "0" * 64, "size": 1, "mime": "image/jpeg", "name": "scan\x00.jpg"}
        body["events"][0].update(type="attachment.added", data=data)

    expect_bad_body(sim, batch_with(sim, attachment_named), "events[0].data.name")
    # The text "\u0000" itself (a backslash, then u0000) is no NUL: taken as any other text.
    events = sim.events(captured(sim))
    events[0]["clerk"] = "\\u0000"
    assert sim.send(events)["ack"]["accepted"] == 1
    still_serving(other)
