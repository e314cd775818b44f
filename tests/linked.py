"""An in-process node linked to an in-process hub through tests/apptransport.py (no sockets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import signing
from tests.apptransport import AppTransport


@dataclass
class Linked:
    """A node enrolled with a hub, both in this process."""

    hub_app: Any
    node_app: Any
    transport: AppTransport

    @property
    def key(self):
        return self.node_app.extensions["daiban_node_key"]

    def client(self, transport: Any = None):
        """A fresh SyncClient (as a restarted node process would have)."""
        from node.sync import SyncClient

        return SyncClient(transport or self.transport, self.key)


def link(hub_app: Any, node_app: Any, village: str = "桃源村", transport: Any = None) -> Linked:
    """Enrol the node app with the hub app, box keys included; through `transport` when the test brings its own."""
    from hub.db import database as hub_db
    from hub.enrolment import issue_code
    from node.bundles import box_key
    from node.db import database as node_db
    from node.enrolment import enroll
    from shared.bundle import box_public_b64

    with hub_db.connection_context():
        code = issue_code(village)
    transport = transport or AppTransport(hub_app.test_client())
    key = node_app.extensions["daiban_node_key"]
    with node_db.connection_context():
        enroll(transport, key, code, "http://hub.test", box_pubkey=box_public_b64(box_key(node_app.config["DATA_DIR"])))
    assert signing.public_b64(key)
    return Linked(hub_app, node_app, transport)
