"""Events encoded ahead (outbox.Draft) while the batch before them travels: the same signed bytes.

A draft is made while the previous batch is at the hub; the queue may change before the batch
after it is cut. Whatever changed, the batch cut with the draft must be byte for byte the batch
cut without one.
"""

from __future__ import annotations

import random
from typing import Any, Callable

import pytest

from node import meta, outbox
from node.capture import capture_request
from node.db import database
from node.models import Batch, Event
from shared import protocol
from tests.factories import capture

PER_BATCH = 4


def _signed(batch: Batch | None) -> tuple[bytes, str, int, int] | None:
    return None if batch is None else (bytes(batch.envelope), batch.hash, batch.first_seq, batch.last_seq)


def _cut_after(
    key: Any, after: Batch, max_bytes: int, draft: outbox.Draft | None
) -> tuple[tuple[bytes, str, int, int] | None, list[tuple[int, int | None]]]:
    """(the batch after `after` as batch_after signs it, every event's seq), then undone."""
    with database.atomic() as txn:
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


@pytest.mark.parametrize("max_bytes", [protocol.DEFAULT_BATCH_BYTES, 3000])
@pytest.mark.parametrize("change", [_change_nothing, _change_data, _quarantine_first, _signed_by_history])
def test_a_batch_cut_with_a_draft_is_the_batch_cut_without_one(
    node_app, monkeypatch, max_bytes: int, change: Callable[[], None]
) -> None:
    key = node_app.extensions["daiban_node_key"]
    monkeypatch.setattr(protocol, "utcnow", lambda: protocol.parse_iso("2026-11-30T12:00:00.000000Z"))
    rng = random.Random(11)
    with database.atomic():
        meta.put("node_id", "n-test")
        for i in range(10):
            capture_request(capture(("FP-02", "DB-01", "JF-01")[i % 3], rng=rng), "李文书")
    first = outbox.next_batch(key, max_bytes, PER_BATCH)
    assert first is not None
    draft = outbox.draft(max_bytes, PER_BATCH)
    with database.atomic():
        change()
    without = _cut_after(key, first, max_bytes, None)
    with_draft = _cut_after(key, first, max_bytes, draft)
    assert with_draft == without
    signed, _numbered = without
    assert signed is not None
    assert signed[2] == first.last_seq + 1


def test_a_draft_is_reused_only_for_the_row_and_seq_it_was_made_from(node_app) -> None:
    rng = random.Random(5)
    with database.atomic():
        for _i in range(3):
            capture_request(capture("JF-01", rng=rng), "李文书")
    draft = outbox.draft(protocol.DEFAULT_BATCH_BYTES, PER_BATCH)
    rows = outbox._unsigned(PER_BATCH)
    seq = int(meta.get("next_seq", 1))
    hit = draft.encoded(rows[0], seq)
    assert hit is not None
    assert hit[0]["seq"] == seq
    assert hit[0]["id"] == rows[0][1]
    assert draft.encoded(rows[0], seq + 1) is None
    assert draft.encoded((*rows[0][:-1], b'{"other":1}'), seq) is None
