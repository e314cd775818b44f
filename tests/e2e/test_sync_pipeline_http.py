"""The sync pipeline over real HTTP to a real hub process, the next batch carried by a worker thread.

A failure in the middle of the pipeline (the link drops the answer of a batch that travelled
ahead; the node fails while applying the answer before it) must lose nothing and double nothing.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from node import meta
from node.capture import capture_request
from node.db import database as node_db
from node.enrolment import enroll
from node.models import Batch, Event, HubUpdate
from node.sync import SyncClient
from node.transport import HttpTransport, TransportError
from shared import protocol
from tests import support
from tests.factories import capture
from tests.node.hubupdates import applying_fails_at

CAPTURES = 12
PER_BATCH = 4  # 3 batches


class LosingTransport(HttpTransport):
    """Real HTTP; loses the answer of the n-th batch after the hub stored it, and notes which thread carried each."""

    def __init__(self, url: str, lose_batch: int | None):
        super().__init__(url, timeout=30)
        self.lose_batch = lose_batch
        self.batches = 0
        self.threads: list[str] = []

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        import threading

        status, raw = super().exchange(path, body)
        if b'"kind":"batch"' in body:
            self.batches += 1
            self.threads.append(threading.current_thread().name)
            if self.batches == self.lose_batch:
                raise TransportError("模拟断线", "timeout")
        return status, raw


def hub_counts(hub: support.Service) -> tuple[int, int, int]:
    """(cases, node events, forks) read from the hub's own SQLite file."""
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as conn:
        return tuple(
            conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ("case", "nodeevent", "forkalert")
        )


@pytest.fixture
def hub(tmp_path):
    """A real hub process on SQLite."""
    hub = support.make_hub(tmp_path)
    hub.start()
    yield hub
    hub.stop()


def enrolled(node_app: Any, hub: support.Service, lose_batch: int | None) -> tuple[SyncClient, LosingTransport]:
    transport = LosingTransport(hub.url, lose_batch)
    key = node_app.extensions["daiban_node_key"]
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    with node_db.connection_context():
        enroll(transport, key, code, hub.url)
        for i in range(CAPTURES):
            capture_request(capture(("FP-02", "DB-01", "JF-01")[i % 3]), "李文书")
    return SyncClient(transport, key), transport


def assert_exactly_once(hub: support.Service) -> None:
    assert hub_counts(hub) == (CAPTURES, CAPTURES, 0)
    with node_db.connection_context():
        assert Event.select().where(Event.result == "ok").count() == CAPTURES
        assert Batch.select().where(Batch.state == "pending").count() == 0
        cseqs = [u.cseq for u in HubUpdate.select().order_by(HubUpdate.cseq)]
        assert cseqs == list(range(1, CAPTURES + 1))
        assert int(meta.get("cursor")) == CAPTURES


def test_lost_answer_of_a_batch_carried_ahead(node_app, hub, monkeypatch) -> None:
    monkeypatch.setattr(protocol, "DEFAULT_BATCH_EVENTS", PER_BATCH)
    client, transport = enrolled(node_app, hub, lose_batch=2)
    with pytest.raises(TransportError):
        client.round()
    assert hub_counts(hub)[1] == 2 * PER_BATCH  # the hub stored batch 2; the node never heard
    with node_db.connection_context():
        assert [b.first_seq for b in Batch.select().where(Batch.state == "pending")] == [PER_BATCH + 1]
    client.round()
    # The first batch of each round goes from the round's thread; each next one travelled on the
    # worker while the answer before it was applied (round 1: batches 1, 2; round 2: batches 2, 3).
    assert transport.threads == ["MainThread", "daiban-sync-ahead", "MainThread", "daiban-sync-ahead"]
    assert_exactly_once(hub)


def test_node_fails_applying_while_the_next_batch_is_at_the_hub(node_app, hub, monkeypatch) -> None:
    monkeypatch.setattr(protocol, "DEFAULT_BATCH_EVENTS", PER_BATCH)
    client, transport = enrolled(node_app, hub, lose_batch=None)
    with applying_fails_at(1), pytest.raises(OSError):
        client.round()
    with node_db.connection_context():
        assert Batch.select().where(Batch.state == "pending").count() == 2
    client.round()
    assert_exactly_once(hub)
