"""Events encoded ahead (outbox.Draft) while the batch before them travels: the same signed bytes.

A draft is made while the previous batch is at the hub; the queue may change before the batch
after it is cut. Whatever changed, the batch cut with the draft must be byte for byte the batch
cut without one.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Callable

import pytest

from node import meta, outbox
from node.apply import apply_resume
from node.capture import capture_request
from node.db import database
from node.models import Batch, Event
from shared import encoding, protocol
from tests.factories import capture

PER_BATCH = 4


def _signed(batch: Batch | None) -> tuple[bytes, str, int, int] | None:
    return None if batch is None else (bytes(batch.envelope), batch.hash, batch.first_seq, batch.last_seq)


def _cut_after(
    key: Any, after: Batch, max_bytes: int, draft: outbox.Draft | None
) -> tuple[tuple[bytes, str, int, int] | None, list[tuple[int, int | None]]]:
    """(the batch after `after` as batch_after signs it, every event's seq), then undone.

    Without a draft, the events numbered ahead go back to the queue first: the cut as it was
    before drafting existed.
    """
    with database.atomic() as txn:
        if draft is None:
            outbox.drop_draft()
        signed = _signed(outbox.batch_after(key, max_bytes, PER_BATCH, after, 7, draft))
        numbered = [(e.id, e.seq) for e in Event.select().order_by(Event.id)]
        txn.rollback()
    return signed, numbered


def _change_nothing() -> None:
    pass


def _change_data() -> None:
    first = Event.select().where(Event.seq.is_null()).order_by(Event.id).first()
    Event.update(data={**first.data, "note": "改过的"}).where(Event.id == first.id).execute()


def _quarantine_first() -> None:
    first = Event.select().where(Event.seq.is_null()).order_by(Event.id).first()
    Event.update(quarantined=True).where(Event.id == first.id).execute()


def _signed_by_history() -> None:
    # A history restore may give an unsigned event its seq: the queue moves up by one.
    first = Event.select().where(Event.seq.is_null()).order_by(Event.id).first()
    Event.update(seq=10_000, result="ok").where(Event.id == first.id).execute()


def _drafted() -> Event:
    return Event.select().join(Batch).where(Batch.state == outbox.DRAFTING).order_by(Event.id).first()


def _change_drafted_data() -> None:
    # Bigger: at a small byte cap the batch is then cut sooner than the draft was.
    first = _drafted()
    Event.update(data={**first.data, "note": "改过的" * 200}).where(Event.id == first.id).execute()


def _quarantine_drafted() -> None:
    Event.update(quarantined=True).where(Event.id == _drafted().id).execute()


def _requeue_older() -> None:
    # The clerk puts back an event set aside before the draft: it goes first, before the drafted ones.
    outbox.requeue(Event.select().where(Event.quarantined).get().id, "李文书")


def _capture_more() -> None:
    capture_request(capture("JF-01", rng=random.Random(3)), "李文书")


def _moved_back() -> None:
    # The chain's end moves back (as a 413 split does): the draft no longer follows it.
    last = int(meta.get("next_seq")) - 1
    Event.update(seq=None, batch=None).where(Event.seq == last).execute()
    meta.put("next_seq", last)


def _elsewhere(step: Callable[[], None]) -> None:
    """Run `step` on another connection (as the clerk's web process writes), committed when it returns."""

    def run() -> None:
        with database.connection_context(), database.atomic():
            step()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()


def _drafted_data_changed_elsewhere() -> None:
    _elsewhere(_change_drafted_data)


def _captured_elsewhere() -> None:
    _elsewhere(_capture_more)


ELSEWHERE = {_drafted_data_changed_elsewhere, _captured_elsewhere}

CHANGES = [
    _change_nothing,
    _change_data,
    _quarantine_first,
    _signed_by_history,
    _change_drafted_data,
    _quarantine_drafted,
    _requeue_older,
    _capture_more,
    _moved_back,
    _drafted_data_changed_elsewhere,
    _captured_elsewhere,
]


def _queued(queued: int, set_aside_first: bool = True) -> None:
    """`queued` captures in the outbox, the first of them set aside (quarantined) unless told otherwise."""
    rng = random.Random(11)
    with database.atomic():
        meta.put("node_id", "n-test")
        for i in range(queued):
            capture_request(capture(("FP-02", "DB-01", "JF-01")[i % 3], rng=rng), "李文书")
        if set_aside_first:
            first = Event.select(Event.id).order_by(Event.id).first()
            Event.update(quarantined=True).where(Event.id == first.id).execute()


def _queued_and_first(key: Any, max_bytes: int, queued: int) -> Batch:
    """_queued, then the first batch signed from them (pending)."""
    _queued(queued)
    first = outbox.next_batch(key, max_bytes, PER_BATCH)
    assert first is not None
    return first


@pytest.mark.parametrize("queued", [10, 6])
@pytest.mark.parametrize("max_bytes", [protocol.DEFAULT_BATCH_BYTES, 3000])
@pytest.mark.parametrize("change", CHANGES)
def test_a_batch_cut_with_a_draft_is_the_batch_cut_without_one(
    node_app, monkeypatch, max_bytes: int, change: Callable[[], None], queued: int
) -> None:
    """Same signed bytes and the same numbers on every event, whether the draft's numbers stood or went."""
    key = node_app.extensions["daiban_node_key"]
    monkeypatch.setattr(protocol, "utcnow", lambda: protocol.parse_iso("2026-11-30T12:00:00.000000Z"))
    first = _queued_and_first(key, max_bytes, queued)
    draft = outbox.draft(max_bytes, PER_BATCH)
    drafting = Batch.get(Batch.state == outbox.DRAFTING)
    assert int(meta.get("next_seq")) == drafting.first_seq == first.last_seq + 1  # the chain has not moved
    if change in ELSEWHERE:
        change()
    else:
        with database.atomic():
            change()
    read = {"rows": 0}
    reading = outbox._rows

    def counted(*args: Any) -> list[tuple[Any, ...]]:
        read["rows"] += 1
        return reading(*args)

    monkeypatch.setattr(outbox, "_rows", counted)
    with_draft = _cut_after(key, first, max_bytes, draft)
    # Nothing written since the draft: the cut signs the events as drafted, without reading them again.
    assert (read["rows"] == 0) == (change is _change_nothing)
    without = _cut_after(key, first, max_bytes, None)
    assert with_draft == without
    if change is _change_nothing:
        assert without[0] is not None
        with database.atomic() as txn:
            taken = outbox.batch_after(key, max_bytes, PER_BATCH, first, 7, draft)
            assert taken is not None
            assert (taken.id, taken.state) == (drafting.id, "pending")
            txn.rollback()


def test_no_send_reads_a_drafting_batch_and_a_hello_puts_its_events_back(node_app) -> None:
    """A drafting batch is not pending (nothing sends it) and a resume drops it before it aligns the chain."""
    key = node_app.extensions["daiban_node_key"]
    rng = random.Random(7)
    with database.atomic():
        meta.put("node_id", "n-test")
        for _i in range(6):
            capture_request(capture("JF-01", rng=rng), "李文书")
    first = outbox.next_batch(key, protocol.DEFAULT_BATCH_BYTES, PER_BATCH)
    assert first is not None
    outbox.draft(protocol.DEFAULT_BATCH_BYTES, PER_BATCH)
    assert [b.state for b in Batch.select().order_by(Batch.id)] == ["pending", outbox.DRAFTING]
    assert outbox.pending_batch() == first
    assert int(meta.get("next_seq")) == 5
    assert Event.select().where(Event.seq.is_null()).count() == 0
    apply_resume({"last_seq": 4, "last_hash": first.hash, "more": False})
    assert [b.state for b in Batch.select().order_by(Batch.id)] == ["acked"]
    assert [e.seq for e in Event.select().order_by(Event.id)] == [1, 2, 3, 4, None, None]
    assert int(meta.get("next_seq")) == 5


def test_a_draft_is_reused_only_for_the_row_and_seq_it_was_made_from(node_app) -> None:
    rng = random.Random(5)
    with database.atomic():
        for _i in range(3):
            capture_request(capture("JF-01", rng=rng), "李文书")
    draft = outbox.draft(protocol.DEFAULT_BATCH_BYTES, PER_BATCH)
    seq = int(meta.get("next_seq", 1))
    rows = outbox._drafted_rows(seq, PER_BATCH)[1]
    hit = draft.encoded(rows[0], seq)
    assert hit is not None
    assert hit[0]["seq"] == seq
    assert hit[0]["id"] == rows[0][1]
    assert draft.encoded(rows[0], seq + 1) is None
    assert draft.encoded((*rows[0][:-1], b'{"other":1}'), seq) is None


@pytest.mark.parametrize("max_bytes", [protocol.DEFAULT_BATCH_BYTES, 3000])
@pytest.mark.parametrize("change", CHANGES)
def test_a_batch_signed_ahead_is_the_batch_cut_without_a_draft(
    node_app, monkeypatch, max_bytes: int, change: Callable[[], None]
) -> None:
    """Signed ahead on the cursor the cut then names (outbox.sign_ahead): the same bytes, whatever changed since."""
    key = node_app.extensions["daiban_node_key"]
    monkeypatch.setattr(protocol, "utcnow", lambda: protocol.parse_iso("2026-11-30T12:00:00.000000Z"))
    first = _queued_and_first(key, max_bytes, 10)
    draft = outbox.draft(max_bytes, PER_BATCH)
    told: list[bytes] = []
    outbox.sign_ahead(key, draft, first.last_seq - first.first_seq + 1, 7, told.append)
    assert len(told) == 1
    if change in ELSEWHERE:
        change()
    else:
        with database.atomic():
            change()
    with_draft = _cut_after(key, first, max_bytes, draft)
    without = _cut_after(key, first, max_bytes, None)
    assert with_draft == without
    if change is _change_nothing:
        assert with_draft[0] is not None
        assert with_draft[0][0] == told[0]


@pytest.mark.parametrize("cursor", [7, 8])
def test_a_batch_signed_ahead_is_taken_only_for_the_cursor_it_names(node_app, monkeypatch, cursor: int) -> None:
    """Signed at 12:00 on cursor 7, cut at 12:01 on `cursor`: taken as signed at 12:00 only when that is 7."""
    key = node_app.extensions["daiban_node_key"]
    clock = {"now": "2026-11-30T12:00:00.000000Z"}
    monkeypatch.setattr(protocol, "utcnow", lambda: protocol.parse_iso(clock["now"]))
    first = _queued_and_first(key, protocol.DEFAULT_BATCH_BYTES, 10)
    draft = outbox.draft(protocol.DEFAULT_BATCH_BYTES, PER_BATCH)
    told: list[bytes] = []
    outbox.sign_ahead(key, draft, first.last_seq - first.first_seq + 1, 7, told.append)
    clock["now"] = "2026-11-30T12:01:00.000000Z"
    signing_now: list[bytes] = []
    with database.atomic() as txn:
        batch = outbox.batch_after(
            key, protocol.DEFAULT_BATCH_BYTES, PER_BATCH, first, cursor, draft, signing_now.append
        )
        assert batch is not None
        body = encoding.parse(bytes(batch.envelope))["body"]
        txn.rollback()
    assert body["cursor"] == cursor
    if cursor == 7:
        assert bytes(batch.envelope) == told[0]
        assert signing_now == []
        assert body["node_clock"].startswith("2026-11-30T12:00:00")
    else:
        assert signing_now == [bytes(batch.envelope)] != told
        assert body["node_clock"].startswith("2026-11-30T12:01:00")
