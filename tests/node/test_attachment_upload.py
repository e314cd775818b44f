"""Resumable attachment upload from a node to a hub (SQLite and PostgreSQL): resume, verify, refuse."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from hub.attachments import stored_path
from hub.models import Attachment as HubAttachment
from node.attachments import add_attachment
from node.capture import capture_request
from node.db import database
from node.models import Attachment
from node.transport import TransportError
from shared import protocol
from shared.chunks import ATTACHMENT_PATH, CHUNK_BYTES, chunk_body
from tests.factories import capture
from tests.images import photo
from tests.apptransport import AppTransport, drop_all_after
from tests.linked import Linked, link


@pytest.fixture
def linked(hub_app, node_app) -> Linked:
    return link(hub_app, node_app)


def add_scan(linked: Linked) -> Attachment:
    with database.connection_context():
        code = capture_request(capture("JF-01"), "李文书").receipt_code
        return add_attachment(code, "宅基地现场.jpg", photo(1600, 1067, grain=(400, 267)), "李文书", "SITE")


def chunk_offsets(transport: AppTransport) -> list[tuple[int, int]]:
    """(offset, length) of every attachment message the transport carried."""
    out = []
    for path, raw in transport.sent:
        if path == ATTACHMENT_PATH:
            body = json.loads(raw)["body"]
            out.append((body["offset"], len(base64.b64decode(body["data"]))))
    return out


def hub_row(sha: str) -> HubAttachment:
    return HubAttachment.get(HubAttachment.sha256 == sha)


def test_dropped_upload_resumes_from_hub_offset(linked: Linked) -> None:
    att = add_scan(linked)
    size = att.size
    assert size > 6 * CHUNK_BYTES
    # The query and two chunks are answered; the third chunk reaches the hub but its answer is lost.
    dropping = AppTransport(linked.hub_app.test_client(), fault=drop_all_after(ATTACHMENT_PATH, 3))
    with pytest.raises(TransportError):
        linked.client(dropping).round()
    row = hub_row(att.sha256)
    assert row.size == size
    assert row.received is False
    assert chunk_offsets(dropping) == [
        (0, 0),
        (0, CHUNK_BYTES),
        (CHUNK_BYTES, CHUNK_BYTES),
        (2 * CHUNK_BYTES, CHUNK_BYTES),
    ]
    with database.connection_context():
        assert Attachment.get_by_id(att.id).uploaded_at is None

    fresh = AppTransport(linked.hub_app.test_client())
    report = linked.client(fresh).round()
    sent = chunk_offsets(fresh)
    # It asked first, then went on from the 3 chunks the hub held: nothing was sent twice.
    assert sent[0] == (0, 0)
    assert sent[1][0] == 3 * CHUNK_BYTES
    assert sum(n for _, n in sent) == size - 3 * CHUNK_BYTES
    assert report.attachments == 1
    assert hub_row(att.sha256).received is True
    held = stored_path(linked.hub_app.config["DATA_DIR"], att.sha256).read_bytes()
    assert hashlib.sha256(held).hexdigest() == att.sha256
    with database.connection_context():
        assert Attachment.get_by_id(att.id).uploaded_at is not None
    # A later round has nothing left to send.
    again = AppTransport(linked.hub_app.test_client())
    linked.client(again).round()
    assert chunk_offsets(again) == []


def _send(linked: Linked, body: dict, key=None) -> tuple[int, dict]:
    resp = linked.hub_app.test_client().post(
        ATTACHMENT_PATH, data=protocol.seal(key or linked.key, body), content_type="application/json"
    )
    return resp.status_code, json.loads(resp.data)["body"]


def test_wrong_hash_is_refused_and_discarded_then_resent(linked: Linked) -> None:
    att = add_scan(linked)
    # Sync the events only: the attachment query is delivered, its answer lost.
    with pytest.raises(TransportError):
        linked.client(AppTransport(linked.hub_app.test_client(), fault=drop_all_after(ATTACHMENT_PATH, 0))).round()
    with database.connection_context():
        from node import meta

        node_id = meta.get("node_id")
    hub_dir = Path(linked.hub_app.config["DATA_DIR"])
    status, body = _send(linked, chunk_body(node_id, att.sha256, 0, b"x" * CHUNK_BYTES))
    assert status == 200
    assert body["offset"] == CHUNK_BYTES
    assert not body["complete"]
    offset = CHUNK_BYTES
    while offset < att.size:
        n = min(CHUNK_BYTES, att.size - offset)
        status, body = _send(linked, chunk_body(node_id, att.sha256, offset, b"y" * n))
        offset += n
    assert status == 422
    assert body["error"]["code"] == "hash_mismatch"
    assert "校验值不符" in body["error"]["message"]
    assert not list((hub_dir / "attachments" / "partial").glob("*"))
    assert not stored_path(hub_dir, att.sha256).exists()
    assert hub_row(att.sha256).received is False
    # The honest bytes go up from zero and are accepted.
    report = linked.client(AppTransport(linked.hub_app.test_client())).round()
    assert report.attachments == 1
    assert hub_row(att.sha256).received is True


def test_unknown_hash_and_foreign_key_are_refused(linked: Linked) -> None:
    from shared import signing

    with database.connection_context():
        from node import meta

        node_id = meta.get("node_id")
    status, body = _send(linked, chunk_body(node_id, "a" * 64, 0, b"abc"))
    assert status == 404
    assert body["error"]["code"] == "unknown_attachment"
    assert "没有这个附件" in body["error"]["message"]
    status, body = _send(linked, chunk_body(node_id, "a" * 64, 0, b"abc"), key=signing.generate_key())
    assert status == 403
    assert body["error"]["code"] == "bad_signature"
    assert not (Path(linked.hub_app.config["DATA_DIR"]) / "attachments").exists()


def test_many_drops_never_send_a_byte_twice(linked: Linked) -> None:
    att = add_scan(linked)
    total = 0
    for _ in range(20):
        # Each round: the query and one chunk are answered, the next chunk arrives but its answer is lost.
        dropping = AppTransport(linked.hub_app.test_client(), fault=drop_all_after(ATTACHMENT_PATH, 2))
        try:
            linked.client(dropping).round()
            total += sum(n for _, n in chunk_offsets(dropping))
            break
        except TransportError:
            total += sum(n for _, n in chunk_offsets(dropping))
    assert hub_row(att.sha256).received is True
    assert total == att.size  # every byte crossed the link exactly once
