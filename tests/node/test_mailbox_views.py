"""镇长信箱 at the village: the clerk captures a message with its own code; the reply prints once synced."""

from __future__ import annotations

from node.apply import apply_updates
from node.db import database
from node.models import Event
from shared import protocol
from shared.receipt_codes import format_code, is_valid


def test_clerk_captures_a_message_and_prints_the_reply(clerk) -> None:
    resp = clerk.post(
        "/messages",
        {"category": "complaint", "content": "窗口<script>x</script>办事慢", "about": "王芳", "window": "W05"},
        page="/messages",
    )
    assert resp.status_code == 302
    ev = Event.get(Event.type == "message.left")
    data = ev.data
    assert is_valid(data["receipt_code"])
    assert len(data["pin"]) == 4
    assert data["phone"] == ""
    assert data["about"] == "王芳"
    assert data["window"] == "W05"
    assert ev.clerk == "李文书"
    receipt = clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert format_code(data["receipt_code"]) in receipt
    assert f'id="mail-pin">{data["pin"]}<' in receipt
    assert "&lt;script&gt;x&lt;/script&gt;" in receipt
    assert "<script>x" not in receipt
    assert "待上传乡镇" in receipt
    with database.atomic():
        apply_updates(
            [
                {
                    "cseq": 1,
                    "type": "message.status",
                    "request_id": ev.request_id,
                    "at": protocol.iso(protocol.utcnow()),
                    "receipt_code": data["receipt_code"],
                    "due": "2026-03-09",
                    "route": "效能监督",
                    "reply": None,
                },
                {
                    "cseq": 2,
                    "type": "message.reply",
                    "request_id": ev.request_id,
                    "at": protocol.iso(protocol.utcnow()),
                    "receipt_code": data["receipt_code"],
                    "due": "2026-03-09",
                    "route": "效能监督",
                    "reply": "经核实已整改<b>",
                    "replied_on": "2026-03-04",
                },
            ]
        )
    receipt = clerk.client.get(f"/messages/{data['receipt_code']}").get_data(as_text=True)
    assert "经核实已整改&lt;b&gt;" in receipt
    assert "2026-03-04" in receipt
    assert "已答复" in clerk.client.get("/messages").get_data(as_text=True)


def test_bad_messages_are_refused_at_the_village_and_nothing_is_queued(clerk) -> None:
    for form, message in (
        ({"category": "consult", "content": ""}, "请填写留言内容"),
        ({"category": "consult", "content": "长" * 1001}, "不能超过1000个字"),
        ({"category": "", "content": "你好"}, "请选择留言类别"),
        ({"category": "consult", "content": "你好", "phone": "123"}, "手机号码应为11位数字"),
    ):
        resp = clerk.post("/messages", form, page="/messages")
        assert resp.status_code == 400
        assert message in resp.get_data(as_text=True)
    assert Event.select().where(Event.type == "message.left").count() == 0
    assert clerk.client.get("/messages/22ABCDEFG").status_code == 404
