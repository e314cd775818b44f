"""Rolling upgrades across one protocol version: old node with new hub works; new node with old hub
is told to upgrade the hub and loses nothing, then syncs once the hub is upgraded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from node import enrolment
from node.capture import capture_request
from node.db import database
from node.models import Batch, Event
from node.sync import SyncClient
from node.transport import HttpTransport, RefusedError
from shared import protocol
from tests import factories, support
from tests.deploy.helpers import hub_rows

# The hub as it will be after an upgrade to protocol 3, same code otherwise.
NEWER_HUB = (
    "import sys, shared.protocol as p; p.PROTOCOL_VERSION = 3; p.SUPPORTED_VERSIONS = frozenset({2, 3}); "
    "from shared.cli import build; build()(prog_name='daiban', args=sys.argv[1:])"
)


def _enrolled_client(node_app, hub: support.Service) -> SyncClient:
    key = node_app.extensions["daiban_node_key"]
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    with database.connection_context():
        enrolment.enroll(HttpTransport(hub.url), key, code, hub.url)
    return SyncClient(HttpTransport(hub.url), key)


def _capture(n: int) -> None:
    with database.connection_context():
        for i in range(n):
            capture_request(factories.capture("DB-01", name=f"王{i}"), "李文书")


def test_old_node_keeps_syncing_with_new_hub(tmp_path: Path, node_app, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = support.make_hub(tmp_path).start()
    try:
        monkeypatch.setattr(protocol, "PROTOCOL_VERSION", 1)
        monkeypatch.setattr(protocol, "SUPPORTED_VERSIONS", frozenset({1}))
        client = _enrolled_client(node_app, hub)
        _capture(3)
        report = client.round()
        assert report.acked == 3
        assert hub_rows(hub, "SELECT protocol_version FROM node") == [(1,)]
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(3,)]
    finally:
        hub.stop()


def test_new_node_with_old_hub_is_told_to_upgrade_the_hub(
    tmp_path: Path, node_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = support.make_hub(tmp_path).start()
    try:
        client = _enrolled_client(node_app, hub)
        monkeypatch.setattr(protocol, "PROTOCOL_VERSION", 3)
        monkeypatch.setattr(protocol, "SUPPORTED_VERSIONS", frozenset({2, 3}))
        client.resume_checked = True  # this node already aligned before its upgrade
        _capture(2)
        with pytest.raises(RefusedError) as info:
            client.round()
        assert "升级乡镇中心" in info.value.message
        assert info.value.code == "unsupported_version"
        with database.connection_context():
            assert Event.select().count() == 2
            assert Event.select().where(Event.result.is_null()).count() == 2
            assert [b.state for b in Batch.select()] == ["pending"]
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(0,)]
    finally:
        hub.stop()

    # The county upgrades the hub; the same stored batch goes through unchanged.
    log = open(tmp_path / "newer-hub.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", NEWER_HUB, "hub", "--dir", str(hub.data_dir), "run", "--port", str(hub.port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=support.ROOT,
        env=dict(os.environ),
    )
    log.close()  # the child holds its own descriptor
    try:
        support.wait_http(hub.url + "/healthz", proc=proc)
        report = client.round()
        assert report.acked == 2
        with database.connection_context():
            assert [b.state for b in Batch.select()] == ["acked"]
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(2,)]
        assert hub_rows(hub, "SELECT protocol_version FROM node") == [(3,)]
    finally:
        proc.terminate()
        proc.wait(10)
