"""The sync round's pipeline: batch n+1 is signed and sent while batch n's answer is applied.

Failures anywhere in the pipeline must leave every capture at the hub exactly once and every
event acknowledged exactly once at the node, after the next round.
"""

from __future__ import annotations

import threading
from typing import Any

import peewee
import pytest

from hub.enrolment import issue_code
from hub.models import Case, ForkAlert, HubEvent, NodeEvent
from node import meta, outbox, sync
from node.capture import capture_request
from node.db import database as node_db
from node.enrolment import enroll
from node.models import Batch, Event, HubUpdate, Request
from node.sync import SyncClient
from node.transport import TransportError
from shared import encoding, protocol, signing
from tests import support
from tests.apptransport import AppTransport
from tests.factories import capture
from tests.node.hubupdates import applying_fails_at

CAPTURES = 10
PER_BATCH = 3  # 10 captures → 4 batches, so every batch but the first can travel ahead


@pytest.fixture
def linked(hub_app, node_app, monkeypatch):
    """An enrolled node with CAPTURES queued captures, cut PER_BATCH to a batch."""
    monkeypatch.setattr(protocol, "DEFAULT_BATCH_EVENTS", PER_BATCH)
    transport = AppTransport(hub_app.test_client())
    key = node_app.extensions["daiban_node_key"]
    with node_db.connection_context():
        enroll(transport, key, issue_code("桃源村"), "http://hub.test")
        codes = [
            capture_request(capture(("FP-02", "DB-01", "JF-01")[i % 3]), "李文书").receipt_code for i in range(CAPTURES)
        ]
    return SyncClient(transport, key), transport, codes


def batches_sent(transport: AppTransport) -> list[dict[str, Any]]:
    """The bodies of the batch messages the node sent, in order."""
    bodies = [encoding.parse(raw)["body"] for path, raw in transport.sent if path == sync.SYNC_PATH]
    return [b for b in bodies if b.get("kind") == "batch"]


def assert_exactly_once(codes: list[str]) -> None:
    """Every capture is one case and one node event at the hub; every event acked once at the node."""
    assert sorted(c.receipt_code for c in Case.select()) == sorted(codes)
    assert NodeEvent.select().count() == CAPTURES
    assert ForkAlert.select().count() == 0
    with node_db.connection_context():
        assert Event.select().where(Event.result == "ok").count() == CAPTURES
        assert Batch.select().where(Batch.state == "pending").count() == 0
        seqs = [e.seq for e in Event.select().order_by(Event.seq)]
        assert seqs == list(range(1, CAPTURES + 1))
        # Each status update applied once, and the node stands where the hub's log ends.
        cseqs = [u.cseq for u in HubUpdate.select().order_by(HubUpdate.cseq)]
        assert cseqs == list(range(1, len(cseqs) + 1))
        assert int(meta.get("cursor")) == HubEvent.select().count() == len(cseqs)
        assert {r.state for r in Request.select()} == {"received"}


def test_next_batch_travels_before_the_answer_is_applied_and_names_the_cursor_it_will_leave(linked) -> None:
    client, transport, codes = linked
    seen: list[tuple[int, str]] = []

    def watch(path: str, body: bytes, phase: str) -> None:
        msg = encoding.parse(body)["body"]
        if phase == "before" and msg.get("kind") == "batch" and msg["first_seq"] > 1:
            with node_db.connection_context():
                before = Batch.get(Batch.last_seq == msg["first_seq"] - 1)
                seen.append((msg["first_seq"], before.state))

    transport.fault = watch
    report = client.round()
    assert report.acked == CAPTURES
    assert report.batches == 4
    # Batches 2, 3, 4 left while the answer to the batch before them was not yet applied.
    assert seen == [(4, "pending"), (7, "pending"), (10, "pending")]
    sent = batches_sent(transport)
    assert [b["first_seq"] for b in sent] == [1, 4, 7, 10]
    # Each batch names the cursor its predecessor's answer left: no update comes down twice.
    assert [b["cursor"] for b in sent] == [0, 3, 6, 9]
    assert_exactly_once(codes)


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_batch_lost_in_flight_is_sent_again_as_signed(linked, phase: str) -> None:
    """The third batch is lost on its way (before) or its answer is lost (after the hub stored it)."""
    client, transport, codes = linked
    count = {"n": 0}
    lost: list[bytes] = []

    def lose_third(path: str, body: bytes, ph: str) -> None:
        if encoding.parse(body)["body"].get("kind") == "batch" and ph == phase:
            count["n"] += 1
            if count["n"] == 3:
                lost.append(body)
                raise TransportError("模拟断线", "timeout")

    transport.fault = lose_third
    with pytest.raises(TransportError):
        client.round()
    assert encoding.parse(lost[0])["body"]["first_seq"] == 7
    with node_db.connection_context():
        # The answer before it was applied; the lost one waits, signed, and nothing after it was cut.
        assert [b.first_seq for b in Batch.select().where(Batch.state == "pending")] == [7]
        assert Event.select().where(Event.seq.is_null()).count() == 1
    assert NodeEvent.select().count() == (9 if phase == "after" else 6)
    transport.fault = None
    client.round()
    resent = [raw for path, raw in transport.sent if path == sync.SYNC_PATH and b'"first_seq":7,' in raw]
    assert resent[-1] == lost[0]  # the same signed bytes again
    assert_exactly_once(codes)


def test_failing_to_apply_an_answer_while_the_next_batch_travels_loses_and_doubles_nothing(linked) -> None:
    """The node fails while applying batch 2's answer, after batch 3 already reached the hub."""
    client, transport, codes = linked
    with applying_fails_at(2), pytest.raises(OSError):
        client.round()
    with node_db.connection_context():
        # Batch 2's answer was never applied, batch 3 was signed ahead and stays pending too.
        assert [b.first_seq for b in Batch.select().where(Batch.state == "pending").order_by(Batch.first_seq)] == [4, 7]
        assert int(meta.get("acked_seq")) == 3
    assert NodeEvent.select().count() == 9  # the hub has batches 1-3
    client.round()
    firsts = [b["first_seq"] for b in batches_sent(transport)]
    assert firsts == [1, 4, 7, 4, 7, 10]  # 2 and 3 again as signed, in chain order, then 4
    assert_exactly_once(codes)


def test_a_busy_database_while_drafting_leaves_the_batch_in_flight_answered(linked, monkeypatch) -> None:
    """Drafting the next batch ahead is a head start only: when the database is busy, the round goes on."""
    client, transport, codes = linked
    transport.overlaps = True  # each batch carried in a worker thread, as over a real link
    tried = {"n": 0}

    def busy(*args: Any, **kwargs: Any) -> Any:
        tried["n"] += 1
        raise peewee.OperationalError("database is locked")

    monkeypatch.setattr(outbox, "draft", busy)
    report = client.round()
    assert tried["n"] >= 1  # a batch travelled while the node tried to draft the next
    assert report.acked == CAPTURES
    assert _drafting() == []
    assert_exactly_once(codes)


def test_an_answer_that_is_not_plain_stops_the_pipeline(linked, monkeypatch) -> None:
    """When the next cursor cannot be known in advance, the next batch is cut after applying, as before."""
    client, transport, codes = linked
    monkeypatch.setattr(sync, "cursor_after", lambda resp, batch: None)
    seen: list[str] = []

    def watch(path: str, body: bytes, phase: str) -> None:
        msg = encoding.parse(body)["body"]
        if phase == "before" and msg.get("kind") == "batch" and msg["first_seq"] > 1:
            with node_db.connection_context():
                seen.append(Batch.get(Batch.last_seq == msg["first_seq"] - 1).state)

    transport.fault = watch
    client.round()
    assert seen == ["acked", "acked", "acked"]
    assert_exactly_once(codes)


@pytest.fixture
def overlapping(linked, monkeypatch):
    """`linked` with a transport that carries each batch in a worker thread, so the next one is drafted
    (outbox.draft: encoded and numbered) while it travels; `drafted` is set once a draft is committed."""
    client, transport, codes = linked
    transport.overlaps = True
    drafted = threading.Event()
    made = outbox.draft

    def draft(max_bytes: int, max_events: int) -> outbox.Draft:
        ahead = made(max_bytes, max_events)
        drafted.set()
        return ahead

    monkeypatch.setattr(outbox, "draft", draft)
    return client, transport, codes, drafted


def _drafting() -> list[tuple[int, int, list[int | None]]]:
    with node_db.connection_context():
        return [
            (b.first_seq, b.last_seq, [e.seq for e in Event.select().where(Event.batch == b.id).order_by(Event.id)])
            for b in Batch.select().where(Batch.state == outbox.DRAFTING)
        ]


def _wait_for_draft(first_seq: int) -> None:
    """Until the round's thread has committed a drafting batch from first_seq (read on a connection of this thread)."""
    support.poll(lambda: [d[0] for d in _drafting()] == [first_seq], 10.0, 0.01, f"no batch drafted from {first_seq}")


def _third_batch_once_drafted(phase: str, failure: BaseException) -> Any:
    """A transport hook: at `phase` of the third batch, once batch 4's events are numbered ahead, `failure`."""
    count = {"n": 0}

    def fault(path: str, body: bytes, ph: str) -> None:
        if encoding.parse(body)["body"].get("kind") == "batch" and ph == phase:
            count["n"] += 1
            if count["n"] == 3:
                _wait_for_draft(10)  # the round's thread numbers batch 4's events meanwhile
                raise failure

    return fault


def test_the_next_events_are_numbered_while_a_batch_travels_and_the_chain_is_the_same(overlapping) -> None:
    client, transport, codes, drafted = overlapping
    report = client.round()
    assert drafted.is_set()
    assert report.acked == CAPTURES
    sent = batches_sent(transport)
    assert [(b["first_seq"], b["last_seq"]) for b in sent] == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert [b["cursor"] for b in sent] == [0, 3, 6, 9]
    assert _drafting() == []
    assert_exactly_once(codes)


@pytest.mark.parametrize("same_client", [True, False])
def test_a_power_cut_with_events_numbered_ahead_loses_and_doubles_nothing(overlapping, same_client: bool) -> None:
    """The power goes while batch 3 is at the hub, after the events of batch 4 were numbered ahead.

    What the cut leaves: batch 3 signed and pending, event 10 numbered in a drafting batch that
    no send reads, next_seq and last_hash still at batch 3. The next round (in this process, or a
    new one that first asks the hub where it stands) sends batch 3 again as signed, then batch 4.
    """
    client, transport, codes, _drafted = overlapping
    transport.fault = _third_batch_once_drafted("before", OSError("power cut"))
    with pytest.raises(OSError):
        client.round()
    assert _drafting() == [(10, 10, [10])]
    with node_db.connection_context():
        assert [b.first_seq for b in Batch.select().where(Batch.state == "pending")] == [7]
        assert int(meta.get("next_seq")) == 10
        assert meta.get("last_hash") == Batch.get(Batch.first_seq == 7).hash
    transport.fault = None
    again = client if same_client else SyncClient(transport, client.key)
    again.round()
    assert [(b["first_seq"], b["last_seq"]) for b in batches_sent(transport)] == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert _drafting() == []
    assert_exactly_once(codes)


def test_a_failed_answer_puts_the_events_numbered_ahead_back_in_the_queue(overlapping) -> None:
    client, transport, codes, _drafted = overlapping
    transport.fault = _third_batch_once_drafted("after", TransportError("模拟断线", "timeout"))
    with pytest.raises(TransportError):
        client.round()
    assert _drafting() == []
    with node_db.connection_context():
        assert Event.select().where(Event.seq.is_null()).count() == 1
    transport.fault = None
    client.round()
    assert_exactly_once(codes)


def test_the_next_batch_is_signed_before_the_answer_is_checked_and_stored_after(linked, monkeypatch) -> None:
    """Its compression starts sooner; still, a batch is stored and sent only after the answer before it passed."""
    client, transport, codes = linked
    steps: list[str] = []
    verify, seal = sync.verify_hub, signing.sealed

    def verifying(*args: Any) -> bool:
        steps.append("check")
        return verify(*args)

    def sealing(*args: Any, **kwargs: Any) -> tuple[bytes, str]:
        steps.append("sign")
        return seal(*args, **kwargs)

    def watch(path: str, body: bytes, phase: str) -> None:
        if phase == "before" and encoding.parse(body)["body"].get("kind") == "batch":
            steps.append("send")

    monkeypatch.setattr(sync, "verify_hub", verifying)
    monkeypatch.setattr(signing, "sealed", sealing)
    transport.fault = watch
    client.round()
    batches = steps[steps.index("sign") :]
    # Batch 1, then for batches 2-4: signed, the answer before it checked, sent; the last answer checked.
    assert batches == ["sign", "send"] + ["sign", "check", "send"] * 3 + ["check"]
    assert_exactly_once(codes)


def test_an_answer_that_fails_its_checks_leaves_nothing_of_the_batch_cut_from_it(overlapping, monkeypatch) -> None:
    """Batch 3 is cut and signed from batch 2's answer, whose signature then does not verify."""
    client, transport, codes, _drafted = overlapping
    verify = sync.verify_hub
    answers = {"n": 0}

    def forged_second(body: dict[str, Any], *args: Any) -> bool:
        if body.get("kind") == "response" and (body.get("ack") or {}).get("first_seq") == 4:
            answers["n"] += 1
            return False
        return verify(body, *args)

    monkeypatch.setattr(sync, "verify_hub", forged_second)
    with pytest.raises(sync.TrustError):
        client.round()
    assert answers["n"] == 1
    assert [(b["first_seq"], b["last_seq"]) for b in batches_sent(transport)] == [(1, 3), (4, 6)]
    assert _drafting() == []
    with node_db.connection_context():
        assert [(b.first_seq, b.state) for b in Batch.select().order_by(Batch.first_seq)] == [
            (1, "acked"),
            (4, "pending"),
        ]
        assert Event.select().where(Event.seq.is_null()).count() == 4
        assert int(meta.get("next_seq")) == 7
    monkeypatch.setattr(sync, "verify_hub", verify)
    client.round()
    assert_exactly_once(codes)


def test_an_answer_not_as_declared_is_refused_and_nothing_is_cut_from_it(linked, monkeypatch) -> None:
    """Entries of the wrong type in the answer parsed before its checks: refused, not a crash, nothing stored."""
    client, transport, codes = linked
    looks = sync._looks_plain

    def malformed(status: int, raw: bytes, request_hash: str) -> tuple[dict[str, Any], str] | None:
        early = looks(status, raw, request_hash)
        return None if early is None else ({**early[0], "updates": ["not an entry"]}, early[1])

    monkeypatch.setattr(sync, "_looks_plain", malformed)
    with pytest.raises(sync.RefusedError) as refused:
        client.round()
    assert refused.value.code == "bad_response"
    assert [(b["first_seq"], b["last_seq"]) for b in batches_sent(transport)] == [(1, 3)]
    with node_db.connection_context():
        assert [(b.first_seq, b.state) for b in Batch.select()] == [(1, "pending")]
        assert Event.select().where(Event.seq.is_null()).count() == CAPTURES - 3
    monkeypatch.setattr(sync, "_looks_plain", looks)
    client.round()
    assert_exactly_once(codes)


def _signing_ahead(monkeypatch, shift: int = 0) -> list[tuple[int, bytes]]:
    """(cursor, envelope) of each batch signed ahead while the one before it travelled (outbox.sign_ahead);
    `shift`: the cursor guessed that much off."""
    made: list[tuple[int, bytes]] = []
    real = outbox.sign_ahead

    def spied(key: Any, draft: outbox.Draft, in_flight: int, cursor: int, sealed: Any = None) -> None:
        real(key, draft, in_flight, cursor + shift, lambda env: made.append((cursor + shift, env)))

    monkeypatch.setattr(outbox, "sign_ahead", spied)
    return made


def _answered_once_signed_ahead(made: list[tuple[int, bytes]]) -> Any:
    """A transport hook: batches 2 and 3 are answered only once the batch after each was signed ahead
    (the round's thread does it while they travel; the in-process hub could answer sooner)."""

    def fault(path: str, body: bytes, phase: str) -> None:
        msg = encoding.parse(body)["body"]
        if phase == "after" and msg.get("kind") == "batch" and msg["first_seq"] in (4, 7):
            signed = 1 if msg["first_seq"] == 4 else 2
            support.poll(
                lambda: len(made) >= signed,
                10.0,
                0.01,
                f"nothing signed ahead while batch {msg['first_seq']} travelled",
            )

    return fault


def test_a_batch_signed_ahead_on_the_cursor_its_answer_leaves_is_sent_as_signed(overlapping, monkeypatch) -> None:
    client, transport, codes, _drafted = overlapping
    ahead = _signing_ahead(monkeypatch)
    transport.fault = _answered_once_signed_ahead(ahead)
    client.round()
    sent = [raw for path, raw in transport.sent if path == sync.SYNC_PATH and b'"kind":"batch"' in raw]
    # Batches 3 and 4, each signed while the one before it was at the hub (batch 1 goes from the
    # round's thread, so batch 2 is cut after its answer), on the cursor its answer left.
    assert [c for c, _env in ahead] == [6, 9]
    assert sent[2:] == [env for _c, env in ahead]
    assert [b["cursor"] for b in batches_sent(transport)] == [0, 3, 6, 9]
    assert _drafting() == []
    assert_exactly_once(codes)


def test_a_batch_signed_ahead_on_another_cursor_is_signed_again_on_the_right_one(overlapping, monkeypatch) -> None:
    """The hub's log moved otherwise than one update per event (the guess is off): nothing of the guess leaves."""
    client, transport, codes, _drafted = overlapping
    ahead = _signing_ahead(monkeypatch, shift=1)
    transport.fault = _answered_once_signed_ahead(ahead)
    client.round()
    assert [c for c, _env in ahead] == [7, 10]
    sent = [raw for path, raw in transport.sent if path == sync.SYNC_PATH and b'"kind":"batch"' in raw]
    assert not set(sent) & {env for _c, env in ahead}
    assert [b["cursor"] for b in batches_sent(transport)] == [0, 3, 6, 9]
    assert_exactly_once(codes)
