"""A synced batch's objects (its events, their prepared rows, the answer) are let go once the server
has the answer, not while the node waits for it; and nothing of a batch is left for the collector."""

from __future__ import annotations

import weakref
from typing import Any

from hub import api, ingest
from tests.hub.test_sync_api import captured
from tests.nodesim import NodeSim


def writers_seen(monkeypatch) -> list[weakref.ref]:
    """A weak reference to every BatchWriter made from now on."""
    seen: list[weakref.ref] = []
    real_init = ingest.BatchWriter.__init__

    def init(self: Any, *args: Any, **kw: Any) -> None:
        real_init(self, *args, **kw)
        seen.append(weakref.ref(self))

    monkeypatch.setattr(ingest.BatchWriter, "__init__", init)
    return seen


def test_the_batch_is_freed_when_the_answer_is_closed_not_before(sim: NodeSim, monkeypatch) -> None:
    writers = writers_seen(monkeypatch)
    held: list[tuple[list[Any], int]] = []
    real = api.handle_sync

    def spy(raw: bytes, hub_key: Any, **kw: Any) -> tuple[int, bytes]:
        out = real(raw, hub_key, **kw)
        held.append((kw["kept"], len(kw["kept"])))
        return out

    monkeypatch.setattr(api, "handle_sync", spy)
    _, raw = sim.batch(sim.events(*(captured(sim) for _ in range(3))))
    resp = sim.client.post("/api/v1/sync", data=raw, content_type="application/json")
    kept, count = held[0]
    assert count > 0  # alive past the handler
    assert any(isinstance(k, ingest.BatchWriter) for k in kept)
    resp.close()  # what the server does once the answer is written
    assert resp.status_code == 200
    assert resp.json["body"]["ack"]["accepted"] == 3
    assert kept == []
    # Freed by reference counting there and then: no cycle left for the collector.
    assert [w() for w in writers] == [None]


def test_without_a_list_to_keep_them_the_batch_is_freed_on_return(sim: NodeSim, hub_app, monkeypatch) -> None:
    # USB bundles call handle_sync without `kept`.
    writers = writers_seen(monkeypatch)
    _, raw = sim.batch(sim.events(captured(sim), captured(sim)))
    with hub_app.app_context():
        status, _ = ingest.handle_sync(raw, hub_app.extensions["daiban_hub_key"], fresh_hello=False)
    assert status == 200
    assert [w() for w in writers] == [None]
