"""Cutting a batch from the outbox: the signed bytes are exactly those of the model-by-model way.

node/outbox._cut reads events as plain rows and encodes the body once (signing.sealed); the
batch it signs, where it cuts, its hash and its envelope must be byte for byte what building
each event from its model instance and protocol.seal give.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from node import meta, outbox
from node.capture import capture_request
from node.db import database
from node.models import Batch, Event
from shared import encoding, protocol
from tests.factories import capture

ODD_DATA = [
    {"note": '换行\n制表\t引号"反斜杠\\ 和 emoji 😀', "n": 2**40, "neg": -7, "empty": {}, "list": [[], [1, "二"]]},
    {"nested": {"b": {"c": {"d": "深"}}}, "flag": True, "none": None, "ascii": "plain", "zero": 0},
]


def _old_wire(ev: Event, seq: int) -> dict[str, Any]:
    """An event as the batch carried it before rows replaced model instances."""
    return {
        "seq": seq,
        "id": ev.event_id,
        "type": ev.type,
        "request_id": ev.request_id,
        "at": ev.at,
        "clerk": ev.clerk,
        "data": ev.data,
    }


def _old_cut(key: Any, max_bytes: int, max_events: int) -> tuple[bytes, str, int] | None:
    """(envelope, hash, events) the former _cut would sign from the same state (read only)."""
    events = list(Event.select().where(Event.seq.is_null() & ~Event.quarantined).order_by(Event.id).limit(max_events))
    if not events:
        return None
    seq = int(meta.get("next_seq", 1))
    chosen: list[dict[str, Any]] = []
    size = 0
    for ev in events:
        wire = _old_wire(ev, seq + len(chosen))
        n = len(encoding.canonical(wire))
        if chosen and size + n > max_bytes:
            break
        chosen.append(wire)
        size += n
    body = protocol.batch_body(
        meta.get("node_id"),
        chosen,
        meta.get("last_hash", protocol.GENESIS_HASH),
        int(meta.get("cursor", 0)),
        catalogue_version=int(meta.get("catalogue_version", 0)),
        app_version=outbox.APP_VERSION,
        pending=outbox.queued_count(),
    )
    return protocol.seal(key, body), protocol.body_hash(body), len(chosen)


@pytest.mark.parametrize("max_bytes", [protocol.DEFAULT_BATCH_BYTES, 3000])
def test_cut_signs_the_bytes_the_model_by_model_cut_signed(node_app, monkeypatch, max_bytes: int) -> None:
    key = node_app.extensions["daiban_node_key"]
    # The batch body holds the node's clock: the same instant for both cuts.
    monkeypatch.setattr(protocol, "utcnow", lambda: protocol.parse_iso("2026-11-30T12:00:00.000000Z"))
    rng = random.Random(7)
    with database.atomic():
        meta.put("node_id", "n-test")
        for i in range(12):
            capture_request(capture(("FP-02", "DB-01", "JF-01")[i % 3], rng=rng), "李文书")
        for i, data in enumerate(ODD_DATA):
            Event.create(
                event_id=f"odd{i}", type="request.supplemented", request_id=f"r{i}", clerk="李", at="t", data=data
            )
    sent = 0
    while True:
        expected = _old_cut(key, max_bytes, 5)
        batch = outbox.next_batch(key, max_bytes, 5)
        if batch is None:
            assert expected is None
            break
        assert expected is not None
        assert (bytes(batch.envelope), batch.hash, batch.last_seq - batch.first_seq + 1) == expected
        assert batch.hash == protocol.body_hash(encoding.parse(bytes(batch.envelope))["body"])
        Batch.update(state="acked").where(Batch.id == batch.id).execute()
        Event.update(result="ok").where(Event.batch == batch.id).execute()
        sent += expected[2]
    assert sent == 14
    assert Event.select().where(Event.seq.is_null()).count() == 0
