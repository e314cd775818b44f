"""A sync round ends within a bounded number of exchanges whatever the hub answers.

The hub's answers are real (an in-process hub app) and then altered and signed again with the
hub key, standing for a hub with a bug, an old hub, or one restored from a backup.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from hub import cases, restores
from hub.enrolment import issue_code
from hub.models import Case, HubEvent, Node
from node import meta
from node.capture import capture_request
from node.db import database as node_db
from node.enrolment import enroll
from node.models import ForgottenUpdate, HubUpdate, Request
from node.sync import MAX_POLLS, SyncClient
from node.transport import RefusedError
from shared import encoding, protocol
from tests.apptransport import AppTransport
from tests.linked import link
from tests.factories import capture

Mutate = Callable[[dict[str, Any]], dict[str, Any]]


class Resigning(AppTransport):
    """Hands the hub's answer through `mutate` and signs it again with the hub key; counts exchanges."""

    def __init__(self, client: Any, hub_key: Any):
        super().__init__(client)
        self.hub_key = hub_key
        self.mutate: Mutate | None = None
        self.count = 0

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        status, raw = super().exchange(path, body)
        self.count += 1
        if self.mutate is None or path != "/api/v1/sync" or status != 200:
            return status, raw
        answer = encoding.parse(raw)["body"]
        return status, protocol.seal(self.hub_key, self.mutate(answer))


@pytest.fixture
def linked(hub_app, node_app):
    transport = Resigning(hub_app.test_client(), hub_app.extensions["daiban_hub_key"])
    return link(hub_app, node_app, transport=transport).client(), transport


def captured(n: int) -> list[str]:
    with node_db.connection_context():
        return [capture_request(capture("JF-01"), "李文书").receipt_code for _ in range(n)]


def old_hub(answer: dict[str, Any]) -> dict[str, Any]:
    """The hub on main before the fix: no epoch, no check, and it echoes the node's cursor."""
    answer.pop("epoch", None)
    answer.pop("at_cursor", None)
    return answer


def test_echoed_cursor_after_a_restore_does_not_spin(linked) -> None:
    """Issue 10's loop: an old hub answers cursor 50 with out_seq 3; the round ends and content agrees."""
    client, transport = linked
    codes = captured(3)
    client.round()
    with node_db.connection_context(), node_db.atomic():
        meta.put("cursor", 50)  # as left by a hub whose log was longer before its restore
        HubUpdate.create(
            cseq=50,
            request_id="gone",
            type="case.status",
            body={"cseq": 50, "state": "accepted"},
            applied_at=HubUpdate.select().first().applied_at,
        )

    def echo(answer: dict[str, Any]) -> dict[str, Any]:
        answer = old_hub(answer)
        if not answer["updates"]:
            answer["cursor"] = 50
        return answer

    transport.mutate = echo
    transport.count = 0
    client.round()
    assert transport.count < 10
    with node_db.connection_context():
        assert meta.get("cursor") == Node.get().out_seq == 3
        assert [u.cseq for u in HubUpdate.select().order_by(HubUpdate.cseq)] == [1, 2, 3]
        assert ForgottenUpdate.select().count() == 1
    cases.act(codes[0], "accept", "王芳")
    client.round()
    with node_db.connection_context():
        assert Request.get(Request.receipt_code == codes[0]).state == "accepted"


def test_more_without_progress_is_a_visible_error(linked) -> None:
    client, transport = linked
    captured(2)
    client.round()

    def stuck(answer: dict[str, Any]) -> dict[str, Any]:
        answer["updates"], answer["more"] = [], True
        return answer

    transport.mutate = stuck
    transport.count = 0
    with pytest.raises(RefusedError) as err:
        client.round()
    assert err.value.code == "stuck_updates"
    assert transport.count <= 3
    with node_db.connection_context():
        assert "没有进展" in meta.get("last_error")


def test_hello_repeating_the_same_history_is_a_visible_error(linked) -> None:
    client, transport = linked
    captured(1)
    client.round()
    client.resume_checked = False

    def same_page(answer: dict[str, Any]) -> dict[str, Any]:
        answer["more"] = True
        return answer

    transport.mutate = same_page
    transport.count = 0
    with pytest.raises(RefusedError) as err:
        client.round()
    assert err.value.code == "stuck_resume"
    assert transport.count <= 3


def test_updates_that_skip_a_number_are_not_applied(linked) -> None:
    client, transport = linked
    codes = captured(2)
    client.round()
    cases.act(codes[0], "accept", "王芳")
    cases.act(codes[1], "accept", "王芳")

    def hole(answer: dict[str, Any]) -> dict[str, Any]:
        answer["updates"] = [u for u in answer["updates"] if u["cseq"] != 3]
        return answer

    transport.mutate = hole
    with pytest.raises(RefusedError) as err:
        client.round()
    assert err.value.code == "update_gap"
    with node_db.connection_context():
        assert meta.get("cursor") == 2
    transport.mutate = None
    client.round()
    with node_db.connection_context():
        assert meta.get("cursor") == 4


def test_a_hub_that_keeps_answering_more_pages_stops_at_the_bound(linked) -> None:
    """Even a hub that makes progress forever (one more entry each answer) cannot hold a round."""
    client, transport = linked
    captured(1)
    client.round()

    def endless(answer: dict[str, Any]) -> dict[str, Any]:
        after = answer["at_cursor"]["cseq"] if "at_cursor" in answer else 0
        answer["updates"] = [{"cseq": after + 1, "type": "note", "request_id": "none", "at": answer["hub_time"]}]
        answer["more"] = True
        return answer

    transport.mutate = endless
    transport.count = 0
    client.round()
    assert MAX_POLLS <= transport.count <= MAX_POLLS + 5


def test_new_epoch_rebuilds_and_keeps_updates_carried_with_it(linked) -> None:
    """The answer that reveals a new epoch also carries updates: none of them is lost."""
    client, transport = linked
    codes = captured(3)
    client.round()
    cases.act(codes[0], "accept", "王芳")
    client.round()
    # The hub loses its last entry (as a failover to a lagging standby would) and decides anew.
    HubEvent.delete().where(HubEvent.cseq == 4).execute()
    Node.update(out_seq=3).execute()
    Case.update(state="received").where(Case.receipt_code == codes[0]).execute()
    restores.new_epoch("promoted")
    cases.act(codes[1], "accept", "王芳")
    cases.act(codes[2], "accept", "王芳")
    report = client.round()
    assert report.reconciled == 1
    with node_db.connection_context():
        states = {r.receipt_code: r.state for r in Request.select()}
        assert states == {codes[0]: "received", codes[1]: "accepted", codes[2]: "accepted"}
        assert meta.get("cursor") == 5
        forgotten = [f.body["action"] for f in ForgottenUpdate.select()]
        assert forgotten == ["accept"]
        assert Request.get(Request.receipt_code == codes[0]).needs_attention


class Cutting(AppTransport):
    """A link that cuts the next `cut` uploads short (the hub sees a truncated body)."""

    def __init__(self, client: Any):
        super().__init__(client)
        self.cut = 0

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.cut and path == "/api/v1/sync":
            self.cut -= 1
            body = body[: len(body) // 2]
        return super().exchange(path, body)


def test_signed_bad_body_over_cut_bytes_is_a_link_error_not_an_alarm(hub_app, node_app) -> None:
    from node.models import Batch
    from node.transport import TransportError, TrustError

    transport = Cutting(hub_app.test_client())
    key = node_app.extensions["daiban_node_key"]
    with node_db.connection_context():
        enroll(transport, key, issue_code("桃源村"), "http://hub.test")
    client = SyncClient(transport, key)
    client.round()
    captured(2)
    transport.cut = 1
    with pytest.raises(TransportError) as err:
        client.round()
    assert not isinstance(err.value, TrustError)
    assert err.value.code == "damaged_in_transit"
    with node_db.connection_context():
        assert Batch.select().where(Batch.state == "pending").count() == 1  # the same bytes go again
    client.round()
    assert Case.select().count() == 2


def test_restarted_node_rebuilds_a_long_log_in_pages(linked, monkeypatch) -> None:
    """Hello and the rebuild both page (2 entries an answer here): the round finishes, content agrees."""
    client, transport = linked
    monkeypatch.setattr(protocol, "MAX_UPDATES_PER_RESPONSE", 2)
    codes = captured(5)
    client.round()
    for code in codes:
        cases.act(code, "accept", "王芳")
    client.round()
    HubEvent.delete().where(HubEvent.cseq > 8).execute()
    Node.update(out_seq=8).execute()
    for code in codes[3:]:
        Case.update(state="received").where(Case.receipt_code == code).execute()
    restores.new_epoch("restore")
    for code in codes[:3]:
        cases.act(code, "approve", "王芳")
    restarted = SyncClient(transport, client.key)
    report = restarted.round()
    assert report.reconciled == 1
    with node_db.connection_context():
        node_log = [(u.cseq, u.body["action"]) for u in HubUpdate.select().order_by(HubUpdate.cseq)]
        hub_log = [(e.cseq, e.body["action"]) for e in HubEvent.select().order_by(HubEvent.cseq)]
        assert node_log == hub_log
        assert meta.get("cursor") == hub_log[-1][0]
        assert {r.receipt_code: r.state for r in Request.select()} == {c.receipt_code: c.state for c in Case.select()}
        assert ForgottenUpdate.select().count() == 2


def test_hub_draws_one_epoch_when_a_node_shows_it_rewound(linked) -> None:
    """A node's cursor past the hub's end (a failover nobody announced): one new epoch, audited; the
    nodes still past the end afterwards do not draw more (each would make every village rebuild)."""
    from hub.models import AuditEntry

    client, transport = linked
    captured(2)
    client.round()
    before = restores.current_epoch()
    for _ in range(2):
        with node_db.connection_context(), node_db.atomic():
            meta.put("cursor", 40)
        client.round()
        with node_db.connection_context():
            assert meta.get("cursor") == 2
            assert meta.get("hub_epoch") == restores.current_epoch()
    drawn = [e.target for e in AuditEntry.select().where(AuditEntry.action == "hub.epoch")]
    assert drawn == ["rewound"]
    assert restores.current_epoch() != before
