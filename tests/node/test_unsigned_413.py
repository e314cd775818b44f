"""Issue 11 item 2: an unsigned 413 (any proxy can send one) never sets records aside for good."""

from __future__ import annotations

from typing import Any

import pytest

from hub.models import Case
from node import meta
from node.capture import capture_request
from node.db import database as node_db
from node.models import Event
from node.sync import UNSIGNED_413_FLOOR
from node.transport import TransportError
from shared import protocol, signing
from tests import support
from tests.apptransport import AppTransport
from tests.linked import link
from tests.factories import capture


class Proxy413(AppTransport):
    """A proxy in front of the hub that answers a bare 413 to sync messages while `refuse` is set."""

    def __init__(self, client: Any):
        super().__init__(client)
        self.refuse: str | None = None  # None | "batch" | "all"
        self.refused = 0

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/api/v1/sync" and self.refuse and (self.refuse == "all" or b'"kind":"batch"' in body):
            self.refused += 1
            return 413, b"<html><body><h1>413 Request Entity Too Large</h1></body></html>"
        return super().exchange(path, body)


@pytest.fixture
def linked(hub_app, node_app):
    transport = Proxy413(hub_app.test_client())
    client = link(hub_app, node_app, transport=transport).client()
    client.round()
    return client, transport


def test_a_small_event_is_never_quarantined_on_an_unsigned_413(linked) -> None:
    client, transport = linked
    with node_db.connection_context():
        capture_request(capture("JF-01"), "李文书")
    transport.refuse = "batch"
    for _ in range(3):
        with pytest.raises(TransportError) as err:
            client.round()
        assert err.value.code == "unsigned_413"
        assert "未签名" in err.value.message
    with node_db.connection_context():
        assert Event.select().where(Event.quarantined).count() == 0
        assert int(meta.get("batch_bytes", protocol.DEFAULT_BATCH_BYTES)) >= UNSIGNED_413_FLOOR
        assert "413" in meta.get("last_error")
    transport.refuse = None
    client.round()
    assert Case.select().count() == 1


def test_small_events_re_cut_a_bounded_number_of_times_and_the_cap_comes_back(linked) -> None:
    client, transport = linked
    with node_db.connection_context():
        for _ in range(2):
            capture_request(capture("DB-01"), "李文书")
    transport.refuse = "batch"
    with pytest.raises(TransportError):
        client.round()
    # The cap (1 MiB) halved down to the 64 KiB floor: four re-cuts, then the round stops and says why.
    assert transport.refused <= (protocol.DEFAULT_BATCH_BYTES // UNSIGNED_413_FLOOR).bit_length()
    with node_db.connection_context():
        assert int(meta.get("batch_bytes")) == UNSIGNED_413_FLOOR
        assert Event.select().where(Event.quarantined).count() == 0
    transport.refuse = None
    report = client.round()
    assert report.acked == 2
    assert Case.select().count() == 2
    with node_db.connection_context():
        assert int(meta.get("batch_bytes")) == protocol.DEFAULT_BATCH_BYTES


def test_unsigned_413_on_hello_is_a_link_error(linked) -> None:
    client, transport = linked
    client.resume_checked = False
    transport.refuse = "all"
    with pytest.raises(TransportError) as err:
        client.round()
    assert err.value.code == "refused_small"


class Always413(support.QuietHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(413)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_daiban_node_sync_behind_a_413_proxy_says_so_without_crashing(node_app) -> None:
    with support.serving(Always413) as url:
        with node_app.app_context():
            meta.put("hub_url", url)
            meta.put("node_id", "N-test")
            meta.put("hub_pubkey", signing.public_b64(signing.generate_key()))
        node_db.close()
        res = support.daiban("node", "--dir", node_app.config["DATA_DIR"], "sync", check=False)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "KeyError" not in res.stderr
    assert "HTTP 413" in res.stderr
