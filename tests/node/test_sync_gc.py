"""Freezing the garbage collector for a round is for a process that exists to sync, not the web process.

`daiban node sync` (and the bench's node driver) run one round and exit: there the collector may
leave what the process held before the round alone while it runs (node.sync.collected_apart). The
node's web process runs its rounds in a background thread beside the clerk's requests: a round
there must not freeze the whole process's objects.
"""

from __future__ import annotations

import gc

import pytest
from click.testing import CliRunner

from hub.enrolment import issue_code
from node import cli as node_cli
from node import sync, sync_panel
from node.capture import capture_request
from node.db import database as node_db
from node.enrolment import enroll
from node.models import Event
from node.sync import SyncClient
from tests.apptransport import AppTransport
from tests.factories import capture


@pytest.fixture
def watched(hub_app, node_app):
    """(client, frozen counts seen at each exchange): an enrolled node with two captures queued."""
    seen: list[int] = []
    transport = AppTransport(hub_app.test_client(), fault=lambda path, body, phase: seen.append(gc.get_freeze_count()))
    key = node_app.extensions["daiban_node_key"]
    with node_db.connection_context():
        enroll(transport, key, issue_code("桃源村"), "http://hub.test")
        for item in ("FP-02", "JF-01"):
            capture_request(capture(item), "李文书")
    seen.clear()
    return SyncClient(transport, key), seen


def _acked() -> int:
    with node_db.connection_context():
        return Event.select().where(Event.result == "ok").count()


def test_a_round_in_the_web_process_leaves_the_collector_alone(node_app, watched) -> None:
    client, seen = watched
    node_app.extensions["daiban_sync_client"] = client  # the process's one client (sync_panel.sync_client)
    before = gc.get_freeze_count()
    report = sync_panel.run_round(node_app)
    assert report.acked == 2
    assert _acked() == 2
    assert seen
    assert set(seen) == {before}
    assert gc.get_freeze_count() == before


def test_daiban_node_sync_freezes_for_its_round_and_thaws_after(node_app, watched, monkeypatch) -> None:
    client, seen = watched
    thresholds: list[tuple[int, ...]] = []
    watch = client.transport.fault

    def both(path: str, body: bytes, phase: str) -> None:
        thresholds.append(gc.get_threshold())
        watch(path, body, phase)

    client.transport.fault = both
    monkeypatch.setattr(node_cli, "_client", lambda app: client)
    before, threshold = gc.get_freeze_count(), gc.get_threshold()
    run = CliRunner().invoke(node_cli.cli, ["--dir", node_app.config["DATA_DIR"], "sync"])
    assert run.exit_code == 0, run.output
    assert _acked() == 2
    assert seen
    assert all(n > before for n in seen)
    assert gc.get_freeze_count() == before  # and given back to the collector after it
    # The young generation collected less often during the round, as often as before after it.
    assert set(thresholds) == {(sync.ROUND_GEN0, *threshold[1:])}
    assert gc.get_threshold() == threshold


def test_a_failed_round_from_the_cli_thaws_too(node_app, watched, monkeypatch) -> None:
    client, seen = watched
    thresholds: list[tuple[int, ...]] = []

    def fail(path: str, body: bytes, phase: str) -> None:
        seen.append(gc.get_freeze_count())
        thresholds.append(gc.get_threshold())
        from node.transport import TransportError

        raise TransportError("模拟断线", "unreachable")

    client.transport.fault = fail
    monkeypatch.setattr(node_cli, "_client", lambda app: client)
    before = gc.get_freeze_count()
    run = CliRunner().invoke(node_cli.cli, ["--dir", node_app.config["DATA_DIR"], "sync"])
    assert run.exit_code == 1
    assert seen
    assert all(n > before for n in seen)
    assert gc.get_freeze_count() == before
    # The young generation's threshold of the round is given back too.
    assert thresholds
    assert all(t[0] == sync.ROUND_GEN0 for t in thresholds)
    assert gc.get_threshold()[0] != sync.ROUND_GEN0


def test_a_round_in_the_web_process_leaves_the_threshold_alone(node_app, watched) -> None:
    client, _ = watched
    thresholds: list[tuple[int, ...]] = []
    client.transport.fault = lambda path, body, phase: thresholds.append(gc.get_threshold())
    node_app.extensions["daiban_sync_client"] = client
    before = gc.get_threshold()
    report = sync_panel.run_round(node_app)
    assert report.acked == 2
    assert thresholds
    assert set(thresholds) == {before}
