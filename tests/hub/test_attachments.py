"""The hub records attachments announced by attachment.added and refuses malformed announcements."""

from __future__ import annotations

import pytest

from hub.enrolment import issue_code
from hub.models import Attachment, Case
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim


@pytest.fixture
def sim(hub_client):  # type: ignore[no-untyped-def]
    return NodeSim(hub_client, issue_code("桃源村"))


def captured(sim: NodeSim) -> tuple[str, str, dict]:
    data = capture("JF-01")
    data.update(receipt_code=new_code(sim.prefix), catalogue_version=1)
    return ("request.captured", protocol.new_id(), data)


def announced(request_id: str, **over) -> tuple[str, str, dict]:  # type: ignore[no-untyped-def]
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


@pytest.mark.parametrize("over, message", [
    ({"sha256": "not-a-hash"}, "校验值"),
    ({"size": 0}, "大小"),
    ({"size": 16 * 1024 * 1024}, "15MB"),
    ({"size": "12"}, "大小"),
])
def test_malformed_announcement_is_refused(sim: NodeSim, over: dict, message: str) -> None:
    cap = captured(sim)
    resp = sim.send(sim.events(cap, announced(cap[1], **over)))
    assert resp["ack"]["accepted"] == 1
    [refusal] = resp["ack"]["results"]
    assert refusal["code"] == "bad_attachment" and message in refusal["message"]
    assert Attachment.select().count() == 0


def test_attachment_for_unknown_request_is_refused(sim: NodeSim) -> None:
    resp = sim.send(sim.events(announced(protocol.new_id())))
    assert resp["ack"]["results"][0]["code"] == "unknown_request"
    assert Attachment.select().count() == 0


def test_replacement_without_box_key_drops_the_old_one(hub_client) -> None:  # type: ignore[no-untyped-def]
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
