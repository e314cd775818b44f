"""The hub records attachments announced by attachment.added and refuses malformed announcements."""

from __future__ import annotations

import pytest

from hub.enrolment import issue_code
from hub.models import Attachment, Case
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim


def captured(sim: NodeSim) -> tuple[str, str, dict]:
    data = capture("JF-01")
    data.update(receipt_code=new_code(sim.prefix), catalogue_version=1)
    return ("request.captured", protocol.new_id(), data)


def announced(request_id: str, **over) -> tuple[str, str, dict]:
    data = {"sha256": "ab" * 32, "size": 120_000, "mime": "image/jpeg", "name": "身份证.jpg", "material_code": "M-ID"}
    data.update(over)
    return ("attachment.added", request_id, data)


def test_announced_attachment_is_expected(sim: NodeSim) -> None:
    cap = captured(sim)
    resp = sim.send(sim.events(cap, announced(cap[1])))
    assert resp["ack"]["accepted"] == 2
    att = Attachment.get()
    assert (att.sha256, att.size, att.received, att.material_code) == ("ab" * 32, 120_000, False, "M-ID")
    assert att.case.request_id == Case.get().request_id


@pytest.mark.parametrize(
    "over, message",
    [
        ({"sha256": "not-a-hash"}, "校验值"),
        ({"size": 0}, "大小"),
        ({"size": 16 * 1024 * 1024}, "15MB"),
        ({"size": "12"}, "大小"),
    ],
)
def test_malformed_announcement_is_refused(sim: NodeSim, over: dict, message: str) -> None:
    cap = captured(sim)
    resp = sim.send(sim.events(cap, announced(cap[1], **over)))
    assert resp["ack"]["accepted"] == 1
    [refusal] = resp["ack"]["results"]
    assert refusal["code"] == "bad_attachment"
    assert message in refusal["message"]
    assert Attachment.select().count() == 0


def test_attachment_for_unknown_request_is_refused(sim: NodeSim) -> None:
    resp = sim.send(sim.events(announced(protocol.new_id())))
    assert resp["ack"]["results"][0]["code"] == "unknown_request"
    assert Attachment.select().count() == 0


def test_replacement_without_box_key_drops_the_old_one(hub_client) -> None:
    from hub.enrolment import revoke
    from hub.models import NodeBoxKey
    from shared import bundle, signing

    def enrol(box: str | None) -> int:
        from tests.nodesim import enrol as enrol_v2

        return enrol_v2(hub_client, issue_code("桃源村"), signing.generate_key(), box)[0]

    assert enrol(bundle.box_public_b64(bundle.generate_box_key())) == 200
    assert NodeBoxKey.select().count() == 1
    revoke("桃源村")
    assert enrol(None) == 200
    assert NodeBoxKey.select().count() == 0


def _chunk(client, sim: NodeSim, sha: str, offset: int, data: bytes = b"") -> tuple[int, dict]:
    import json

    from shared.chunks import ATTACHMENT_PATH, chunk_body

    resp = client.post(
        ATTACHMENT_PATH,
        data=protocol.seal(sim.key, chunk_body(sim.node_id, sha, offset, data)),
        content_type="application/json",
    )
    body = json.loads(resp.data)["body"]
    assert protocol.verify_body(sim.hub_pub, body, json.loads(resp.data)["sig"])
    return resp.status_code, body


def test_announcing_another_villages_hash_completes_nothing_without_the_bytes(hub_client, sim: NodeSim) -> None:
    """A hash is a name, not a proof: each village's case is complete only once that village sent the bytes."""
    import hashlib

    data = "身份证正反面".encode() * 5000
    sha = hashlib.sha256(data).hexdigest()
    other = NodeSim(hub_client, issue_code("杏花村"))
    for node in (sim, other):
        cap = captured(node)
        node.send(node.events(cap, announced(cap[1], sha256=sha, size=len(data))))
    status, body = _chunk(hub_client, sim, sha, 0, data)
    assert status == 200
    assert body["complete"]
    assert body["offset"] == len(data)

    def received() -> dict[str, bool]:
        return {a.case.node_id: a.received for a in Attachment.select()}

    assert received() == {sim.node_id: True, other.node_id: False}
    # The other village knows the hash (it may have seen it anywhere) but never sends a byte.
    for _ in range(3):
        status, body = _chunk(hub_client, other, sha, 0)
        assert status == 200
        assert not body["complete"]
        assert body["offset"] == 0
    status, body = _chunk(hub_client, other, sha, len(data))
    assert not body["complete"]
    assert body["offset"] == 0
    assert received() == {sim.node_id: True, other.node_id: False}
    # Sending the bytes proves it holds them: then its case is complete too.
    status, body = _chunk(hub_client, other, sha, 0, data)
    assert status == 200
    assert body["complete"]
    assert received() == {sim.node_id: True, other.node_id: True}
    status, body = _chunk(hub_client, sim, sha, 0)
    assert body["complete"], "the first village's own upload still counts"
