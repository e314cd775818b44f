"""A scripted village node for protocol tests: it signs batches exactly as the spec says."""

from __future__ import annotations

import json
from typing import Any

from shared import encoding, enrolment, protocol, signing


def enrol(client: Any, code: str, key: Any, box_pubkey: str | None = None) -> tuple[int, dict[str, Any]]:
    """Both rounds of enrolment v2 over a Flask test client; (status, answer body) of the last round."""
    normal = enrolment.parse_code(code)
    side = enrolment.NodeSide(normal, signing.public_b64(key), box_pubkey)
    start = {
        "v": 2,
        "kind": enrolment.START,
        "code_id": side.cid,
        "pubkey": signing.public_b64(key),
        "app_version": "test",
        "pake": side.start(),
    }
    if box_pubkey:
        start["box_pubkey"] = box_pubkey
    resp = client.post("/api/v1/enroll", data=encoding.canonical(start), content_type="application/json")
    body = json.loads(resp.data)["body"]
    if resp.status_code != 200:
        return resp.status_code, body
    proof = side.finish(body["pake"], body["hub_pubkey"], body.get("hub_box_pubkey"), body["hub_confirm"])
    resp = client.post(
        "/api/v1/enroll",
        data=encoding.canonical(
            {
                "v": 2,
                "kind": enrolment.CONFIRM,
                "code_id": side.cid,
                "pubkey": signing.public_b64(key),
                "confirm": proof,
            }
        ),
        content_type="application/json",
    )
    return resp.status_code, json.loads(resp.data)["body"]


class NodeSim:
    """Holds a key and a chain position; builds signed batches, polls and hellos."""

    def __init__(self, client: Any, code: str, prefix: str = "22"):
        self.client = client
        self.key = signing.generate_key()
        self.seq = 0
        self.last_hash = protocol.GENESIS_HASH
        status, body = enrol(client, code, self.key)
        assert status == 200, body
        self.node_id = body["node_id"]
        self.prefix = body["prefix"]
        self.hub_pub = body["hub_pubkey"]

    def events(self, *datas: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Wire events numbered after the current chain position."""
        out = []
        for i, (type_, request_id, data) in enumerate(datas):
            out.append(
                {
                    "seq": self.seq + 1 + i,
                    "id": protocol.new_id(),
                    "type": type_,
                    "request_id": request_id,
                    "at": protocol.iso(protocol.utcnow()),
                    "clerk": "李文书",
                    "data": data,
                }
            )
        return out

    def batch(
        self, events: list[dict[str, Any]], *, prev_hash: str | None = None, cursor: int = 0, key: Any = None
    ) -> tuple[dict[str, Any], bytes]:
        """A signed batch (body, envelope bytes); does not advance the chain."""
        body = protocol.batch_body(
            self.node_id,
            events,
            self.last_hash if prev_hash is None else prev_hash,
            cursor,
            catalogue_version=1,
            app_version="test",
        )
        return body, protocol.seal(key or self.key, body)

    def advance(self, body: dict[str, Any]) -> None:
        """Move the chain past a batch the hub accepted."""
        self.seq = body["last_seq"]
        self.last_hash = protocol.body_hash(body)

    def post(self, raw: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
        """Send envelope bytes; return (status, verified response body)."""
        resp = self.client.post(
            "/api/v1/sync", data=raw, content_type=headers.pop("content_type", "application/json"), headers=headers
        )
        env = json.loads(resp.data)
        assert protocol.verify_body(self.hub_pub, env["body"], env["sig"]), "hub response must be signed"
        return resp.status_code, env["body"]

    def send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Send a batch that must be accepted; advance the chain; return the response body."""
        body, raw = self.batch(events)
        status, resp = self.post(raw)
        assert status == 200, resp
        self.advance(body)
        return resp

    def poll(self, cursor: int = 0, kind: str = "poll", acked_seq: int = 0) -> dict[str, Any]:
        """A signed poll or hello."""
        body = protocol.poll_body(
            self.node_id, cursor, kind=kind, acked_seq=acked_seq, catalogue_version=1, app_version="test"
        )
        status, resp = self.post(protocol.seal(self.key, body))
        assert status == 200, resp
        return resp
