"""两头受理 at the village point: the same ID number cannot apply twice for one item while the first is open."""

from __future__ import annotations

import pytest

from node.apply import apply_updates
from node.capture import CaptureError, capture_request
from node.models import Event, Request
from shared import protocol
from tests.factories import capture


def test_second_open_request_for_same_item_refused_with_the_earlier_code(node_app) -> None:
    first = capture_request(capture("DB-01"), "李文书")
    again = capture("DB-01", name="张三")
    again["applicant"]["id_number"] = first.id_number.lower()  # a lower-case x is the same number
    before = Request.select().count(), Event.select().count()
    with pytest.raises(CaptureError) as err:
        capture_request(again, "李文书")
    assert [e.code for e in err.value.errors] == ["duplicate_application"]
    assert first.receipt_code[:3] in str(err.value)
    assert "同一事项不能重复申请" in str(err.value)
    assert (Request.select().count(), Event.select().count()) == before
    # Another item, or the same item once the first is closed, is a new request.
    other = capture("DB-03")
    other["applicant"]["id_number"] = first.id_number
    assert capture_request(other, "李文书").state == "queued"
    Request.update(state="refused").where(Request.request_id == first.request_id).execute()
    assert capture_request(again, "李文书").state == "queued"


def test_hub_flag_reaches_the_clerk(node_app) -> None:
    req = capture_request(capture("DB-01"), "李文书")
    note = "该身份证号码已有一件“农村最低生活保障申请”正在办理（回执码 ZZ2-345-678），同一事项不能重复申请"
    apply_updates(
        [
            {
                "cseq": 1,
                "type": "case.status",
                "request_id": req.request_id,
                "at": protocol.iso(protocol.utcnow()),
                "state": "received",
                "action": "received",
                "note": note,
                "duplicate_of": "ZZ2345678",
            }
        ]
    )
    got = Request.get_by_id(req.request_id)
    assert got.needs_attention
    assert got.note == note


def test_request_page_shows_the_hub_note(clerk) -> None:
    req = capture_request(capture("DB-01"), "李文书")
    Request.update(note="疑似重复申请，由窗口核实").where(Request.request_id == req.request_id).execute()
    html = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert 'id="hub-note"' in html
    assert "疑似重复申请，由窗口核实" in html
