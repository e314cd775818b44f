"""Purging personal data: only closed, acknowledged, old requests; a masked summary stays."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from node.attachments import add_attachment, path_for
from node.capture import add_event, capture_request, now
from node.db import database
from node.models import Attachment, Batch, Event, Request
from node.purge import purge_closed, purge_days
from shared import protocol
from tests.factories import capture
from tests.images import photo


def closed(name: str, state: str = "approved", days_ago: int = 200, acked: bool = True) -> Request:
    """A request the hub closed `days_ago`, its events acked (or not), signed into its own batch."""
    req = capture_request(capture("JF-01", name=name), "李文书")
    status_at = protocol.iso(protocol.utcnow() - timedelta(days=days_ago))
    Request.update(state=state, status_at=status_at).where(Request.request_id == req.request_id).execute()
    events = list(Event.select().where(Event.request_id == req.request_id))
    batch = Batch.create(
        first_seq=events[0].id * 100,
        last_seq=events[0].id * 100,
        hash="h" * 64,
        prev_hash="0" * 64,
        envelope=json.dumps({"name": name}, ensure_ascii=False).encode(),
        state="acked" if acked else "pending",
        created_at=now(),
    )
    Event.update(batch=batch, result="ok" if acked else None).where(Event.request_id == req.request_id).execute()
    return Request.get_by_id(req.request_id)


def test_purge_masks_old_closed_acked_requests_only(node_app) -> None:
    with database.connection_context():
        old = closed("张三丰")
        recent = closed("李四", days_ago=10)
        unacked = closed("王五", acked=False)
        open_ = closed("赵六", state="accepted")
        att = add_attachment(old.receipt_code, "张三丰身份证.jpg", photo(300, 200), "李文书", "ID")
        Event.update(result="ok").where(Event.event_id == att.event_id).execute()
        Attachment.update(uploaded_at=now()).execute()
        scan = path_for(att.sha256, base=Path(node_app.config["DATA_DIR"]))
        assert scan.exists()
        before = {r.request_id: (r.applicant_name, r.id_number, r.phone) for r in (recent, unacked, open_)}

        assert purge_closed(180) == 1

        gone = Request.get_by_id(old.request_id)
        assert (gone.applicant_name, gone.id_number, gone.id_tail, gone.phone, gone.address) == ("张**", "", "", "", "")
        assert gone.purged
        assert gone.receipt_code == old.receipt_code
        assert gone.item_code == "JF-01"
        assert gone.state == "approved"  # the masked summary keeps what happened
        assert gone.data["applicant"]["name"] == "张**"
        assert gone.data["fields"] == {}
        assert gone.data["notes"] == ""
        for ev in Event.select().where(Event.request_id == old.request_id):
            text = json.dumps(ev.data, ensure_ascii=False)
            assert "张三丰" not in text
            assert old.id_number not in text
            assert "13800138000" not in text
        assert not scan.exists()
        assert Attachment.get_by_id(att.id).name == ""
        envelopes = {bytes(b.envelope) for b in Batch.select()}
        assert not any("张三丰".encode() in e for e in envelopes)
        for rid, values in before.items():
            r = Request.get_by_id(rid)
            assert (r.applicant_name, r.id_number, r.phone) == values
            assert not r.purged
        assert any("李四".encode() in e for e in envelopes)  # batches of live requests keep their signed bytes

        assert purge_closed(180) == 0  # nothing left to do; running twice is harmless


def test_unacked_later_event_blocks_purge(node_app) -> None:
    with database.connection_context():
        req = closed("孙七", state="withdrawn")
        add_event(req.receipt_code, "request.feedback", "李文书", {"satisfaction": "满意"})
        assert purge_closed(180) == 0
        assert Request.get_by_id(req.request_id).applicant_name == "孙七"


def test_days_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DAIBAN_NODE_PURGE_DAYS", "30")
    assert purge_days() == 30
    monkeypatch.setenv("DAIBAN_NODE_PURGE_DAYS", "abc")
    assert purge_days() == 180
    monkeypatch.delenv("DAIBAN_NODE_PURGE_DAYS")
    assert purge_days() == 180
