"""One trust rule for every way a node's bytes arrive: sync, attachment chunks and USB bundles.

An unknown node, a revoked node and a wrong key get the same refusal on each transport, and
nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub import bundles as hub_bundles
from hub.enrolment import issue_code, revoke
from hub.models import Attachment, BundleImport
from shared import bundle, protocol, signing
from shared.bundle import BundleError
from shared.chunks import ATTACHMENT_PATH, chunk_body
from tests.hub.test_adversarial import captured, snapshot
from tests.nodesim import NodeSim


def via_sync(hub_app: Any, sim: NodeSim, node_id: str, key: Any) -> str:
    body = protocol.poll_body(node_id, 0, catalogue_version=1, app_version="t")
    status, resp = sim.post(protocol.seal(key, body))
    assert status == protocol.ERRORS[resp["error"]["code"]][0]
    return str(resp["error"]["code"])


def via_chunk(hub_app: Any, sim: NodeSim, node_id: str, key: Any) -> str:
    resp = hub_app.test_client().post(
        ATTACHMENT_PATH,
        data=protocol.seal(key, chunk_body(node_id, "ab" * 32, 0, b"x")),
        content_type="application/json",
    )
    env = json.loads(resp.data)
    assert protocol.verify_body(sim.hub_pub, env["body"], env["sig"])
    return str(env["body"]["error"]["code"])


def via_bundle(hub_app: Any, sim: NodeSim, node_id: str, key: Any) -> str:
    hub_box = bundle.box_public_b64(hub_app.extensions["daiban_hub_box_key"])
    raw = bundle.seal(
        {"messages": [bundle.encode_blob(sim.batch(sim.events(captured(sim)))[1])]},
        direction=bundle.TO_HUB,
        sender=node_id,
        recipient="hub",
        recipient_box_pub=hub_box,
        signing_key=key,
    )
    with pytest.raises(BundleError) as err:
        hub_bundles.import_bundle(
            raw,
            hub_app.config["DATA_DIR"],
            hub_app.extensions["daiban_hub_key"],
            hub_app.extensions["daiban_hub_box_key"],
        )
    assert err.value.message == hub_bundles.REFUSALS[err.value.code]
    return err.value.code


@pytest.mark.parametrize("transport", [via_sync, via_chunk, via_bundle])
def test_every_transport_refuses_the_same_untrusted_senders(hub_app, hub_client, transport: Any) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    sim.send(sim.events(captured(sim)))

    def stored() -> tuple:
        return snapshot(), Attachment.select().count(), BundleImport.select().count()

    before = stored()
    assert transport(hub_app, sim, "nobody", signing.generate_key()) == "unknown_node"
    assert transport(hub_app, sim, sim.node_id, signing.generate_key()) == "bad_signature"
    assert stored() == before
    revoke("桃源村")
    before = stored()
    assert transport(hub_app, sim, sim.node_id, sim.key) == "revoked"
    assert stored() == before
