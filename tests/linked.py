"""An in-process node linked to an in-process hub through the Flask test client (no sockets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.transport import TransportError
from shared import signing


class ClientTransport:
    """A node Transport that posts to the hub's Flask test client."""

    def __init__(self, client: Any):
        self.client = client
        self.sent: list[tuple[str, bytes]] = []

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Post body; 5xx is a transport failure as over HTTP."""
        self.sent.append((path, body))
        resp = self.client.post(path, data=body, content_type="application/json")
        if resp.status_code >= 500:
            raise TransportError(f"HTTP {resp.status_code}", "server_error")
        return resp.status_code, resp.data


class DroppingTransport(ClientTransport):
    """Delivers to the hub but loses the answer of the n-th message to `path` and everything after."""

    def __init__(self, client: Any, path: str, drop_after: int):
        super().__init__(client)
        self.path = path
        self.drop_after = drop_after
        self.count = 0

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Deliver, then drop the connection once the budget is spent (the hub did receive it)."""
        if path == self.path:
            self.count += 1
            if self.count > self.drop_after:
                super().exchange(path, body)
                raise TransportError("连接中断", "unreachable")
        return super().exchange(path, body)


@dataclass
class Linked:
    """A node enrolled with a hub, both in this process."""

    hub_app: Any
    node_app: Any
    transport: ClientTransport

    @property
    def key(self):  # type: ignore[no-untyped-def]
        return self.node_app.extensions["daiban_node_key"]

    def client(self, transport: Any = None):  # type: ignore[no-untyped-def]
        """A fresh SyncClient (as a restarted node process would have)."""
        from node.sync import SyncClient

        return SyncClient(transport or self.transport, self.key)


def link(hub_app: Any, node_app: Any, village: str = "桃源村") -> Linked:
    """Enrol the node app with the hub app, box keys included."""
    from hub.db import database as hub_db
    from hub.enrolment import issue_code
    from node.bundles import box_key
    from node.db import database as node_db
    from node.enrolment import enroll
    from shared.bundle import box_public_b64

    with hub_db.connection_context():
        code = issue_code(village)
    transport = ClientTransport(hub_app.test_client())
    key = node_app.extensions["daiban_node_key"]
    with node_db.connection_context():
        enroll(transport, key, code, "http://hub.test", box_pubkey=box_public_b64(box_key(node_app.config["DATA_DIR"])))
    assert signing.public_b64(key)
    return Linked(hub_app, node_app, transport)
