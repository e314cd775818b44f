"""A node whose hello shows the hub lost the tail of its events: the batches that fill the tail again
are recorded as re-sent, and the tail is forgotten once filled (hub/restores.py; SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from hub import restores, settings
from hub.models import AuditEntry
from tests.hub.test_adversarial import captured
from tests.nodesim import NodeSim


def resent() -> list[dict]:
    return [e.detail for e in AuditEntry.select().where(AuditEntry.action == "sync.resent").order_by(AuditEntry.seq)]


def test_the_batches_that_fill_a_lost_tail_are_recorded_and_the_tail_then_forgotten(sim: NodeSim) -> None:
    key = restores.LOST_PREFIX + sim.node_id
    sim.poll(kind="hello", acked_seq=3)  # three events acknowledged; the hub holds none
    assert json.loads(settings.get(key) or "{}")["to"] == 3

    sim.send(sim.events(captured(sim), captured(sim)))
    assert [(d["first_seq"], d["last_seq"], d["accepted"]) for d in resent()] == [(1, 2, 2)]
    assert settings.get(key) is not None  # the third is still missing

    sim.send(sim.events(captured(sim)))
    assert [(d["first_seq"], d["last_seq"]) for d in resent()] == [(1, 2), (3, 3)]
    assert settings.get(key) is None

    sim.send(sim.events(captured(sim)))  # past the tail: an ordinary batch
    assert len(resent()) == 2
