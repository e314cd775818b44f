"""A node applies nothing from a signed answer that does not fit its declaration (shared/messages.py)."""

from __future__ import annotations

from typing import Any

import pytest

from hub import cases
from node import meta
from node.capture import capture_request
from node.db import database
from node.models import Event, HubUpdate
from node.transport import RefusedError
from shared import encoding, protocol
from tests.factories import capture
from tests.apptransport import AppTransport
from tests.linked import Linked, link


class RewritingTransport(AppTransport):
    """Delivers to the hub, then alters its answer and signs it again with the hub's own key."""

    def __init__(self, client: Any, hub_key: Any, change: Any):
        super().__init__(client)
        self.hub_key = hub_key
        self.change = change

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        status, raw = super().exchange(path, body)
        answer = encoding.parse(raw)["body"]
        self.change(answer)
        return status, protocol.seal(self.hub_key, answer)


@pytest.fixture
def linked(hub_app, node_app) -> Linked:
    return link(hub_app, node_app)


def first_update_cseq_as_text(answer: dict[str, Any]) -> None:
    for update in answer.get("updates", []):
        update["cseq"] = str(update["cseq"])


@pytest.mark.parametrize(
    "change",
    [
        first_update_cseq_as_text,
        lambda answer: answer.update(cursor=-1),
        lambda answer: answer.update(last_hash="not a hash"),
    ],
)
def test_an_answer_outside_its_declaration_is_refused_and_nothing_applied(linked: Linked, change: Any) -> None:
    linked.client().round()  # aligned with the hub
    with database.connection_context():
        code = capture_request(capture("FP-01"), "李文书").receipt_code
    linked.client().round()
    cases.act(code, "approve", "窗口")  # an update waits for the village
    with database.connection_context():
        before = (meta.get("cursor"), HubUpdate.select().count(), [e.result for e in Event.select()])
    hub = linked.hub_app
    transport = RewritingTransport(hub.test_client(), hub.extensions["daiban_hub_key"], change)
    client = linked.client(transport)
    client.resume_checked = True
    with pytest.raises(RefusedError) as err:
        client.round()
    assert err.value.code == "bad_response"
    with database.connection_context():
        assert (meta.get("cursor"), HubUpdate.select().count(), [e.result for e in Event.select()]) == before
    report = linked.client().round()  # the honest answer is applied as usual
    assert report.updates == 1
