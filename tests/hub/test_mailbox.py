"""镇长信箱: messages online and from villages, routed, answered in time by the right person only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hub.enrolment import issue_code
from hub.models import AuditEntry, HubEvent, MailMessage
from hub.staff import create_user
from shared import protocol
from shared.receipt_codes import format_code, new_code
from shared.workdays import WorkCalendar
from tests.hub.console_support import Desk, csrf_of
from tests.hub.pages import hub_time
from tests.nodesim import NodeSim


@pytest.fixture
def sim(hub_app):
    create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09"])
    create_user("zhou", "周明", "secret-pass", "staff", ["W04"])
    return NodeSim(hub_app.test_client(), issue_code("桃源村"))


def leave(client: Any, addr: str = "10.2.2.2", **form: str) -> Any:
    token = csrf_of(client.get("/mailbox").get_data(as_text=True))
    data = {"category": "consult", "content": "请问低保怎么申请？", **form, "csrf_token": token}
    return client.post("/mailbox", data=data, environ_base={"REMOTE_ADDR": addr})


def village_message(sim: NodeSim, **data: Any) -> tuple[dict[str, Any], str]:
    body = {
        "category": "complaint",
        "content": "窗口工作人员态度不好",
        "name": "李大爷",
        "phone": "",
        "about": "",
        "window": "",
        "pin": "4321",
        "receipt_code": new_code(sim.prefix),
        **data,
    }
    message_id = protocol.new_id()
    resp = sim.send(sim.events(("message.left", message_id, body)))
    return resp["ack"], message_id


def mail_state() -> list[tuple[Any, ...]]:
    return [(m.code, m.reply, m.replied_by, m.outcome) for m in MailMessage.select().order_by(MailMessage.id)] + [
        (HubEvent.select().count(),)
    ]


def test_online_message_gets_a_code_a_deadline_and_a_window(hub_app, sim) -> None:
    client = hub_app.test_client()
    with hub_time(datetime(2026, 3, 2, 2, 0)):  # Monday
        resp = leave(client, phone="13800001234", name="张三")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "留言已收到" in html
    assert "2026年3月9日前答复" in html
    assert "<script" not in html.lower()
    m = MailMessage.get()
    assert m.code.startswith("ZZ")
    assert m.route == "window"
    assert m.window == "W04"
    assert m.check == "1234"
    assert m.due == WorkCalendar().add_workdays(datetime(2026, 3, 2).date(), 5)
    assert m.client
    assert "10.2" not in m.client
    page = client.get("/status", query_string={"code": format_code(m.code), "tail": "1234"}).get_data(as_text=True)
    assert "请问低保怎么申请？" in page
    assert "2026年3月9日前答复" in page
    assert "张*" in page
    assert "张三" not in page
    # No phone: a PIN printed on the receipt is the second factor.
    resp = leave(client, addr="10.2.2.3", content="建议在村里多贴办事指南", category="suggestion")
    m2 = MailMessage.select().order_by(MailMessage.id.desc()).get()
    assert len(m2.check) == 4
    assert f'id="mail-pin">{m2.check}<' in resp.get_data(as_text=True)


BAD = [
    ({"content": ""}, "请填写留言内容"),
    ({"content": "长" * 1001}, "不能超过1000个字"),
    ({"category": "spam"}, "请选择留言类别"),
    ({"phone": "12345"}, "手机号码应为11位数字"),
    ({"window": "W99"}, "所选窗口不存在"),
    ({"name": "名" * 31}, "姓名不能超过30个字"),
    ({"content": "你好\x00"}, "控制字符"),
]


@pytest.mark.parametrize("form,message", BAD)
def test_bad_messages_are_refused_plainly_and_nothing_is_stored(hub_client, form, message) -> None:
    resp = leave(hub_client, **form)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert MailMessage.select().count() == 0


def test_floods_from_one_address_or_one_phone_are_stopped(hub_app, sim) -> None:
    hub_app.config.update(MAILBOX_LIMIT=2)
    client = hub_app.test_client()
    assert leave(client).status_code == 200
    assert leave(client).status_code == 200
    resp = leave(client)
    assert resp.status_code == 429
    assert "留言过于频繁" in resp.get_data(as_text=True)
    assert leave(client, addr="10.9.9.1", phone="13900001111").status_code == 200
    assert leave(client, addr="10.9.9.2", phone="13900001111").status_code == 200
    assert leave(client, addr="10.9.9.3", phone="139 0000 1111").status_code == 429
    assert MailMessage.select().count() == 4


def test_html_in_messages_and_replies_is_shown_as_text(hub_app, sim) -> None:
    client = hub_app.test_client()
    leave(client, phone="13800001234", content="<script>alert(1)</script><img src=x onerror=alert(2)>")
    m = MailMessage.get()
    zhou = Desk(hub_app, "zhou", create=False)
    page = zhou.get(f"/console/mailbox/{m.code}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert (
        zhou.post(
            f"/console/mailbox/{m.code}/reply", {"reply": "<b>您好</b><script>x()</script>"}, page="/console/mailbox"
        ).status_code
        == 302
    )
    html = client.get("/status", query_string={"code": m.code, "tail": "1234"}).get_data(as_text=True)
    assert "&lt;b&gt;您好&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>x()" not in html


def test_complaint_from_a_village_goes_to_the_supervisor_never_to_the_person_named(hub_app, sim) -> None:
    ack, message_id = village_message(sim, about="王芳", window="W05")
    assert ack["accepted"] == 1, ack
    m = MailMessage.get()
    assert (m.route, m.about_staff, m.window, m.channel, m.check) == ("supervisor", "wang", "W05", "village", "4321")
    status = HubEvent.get((HubEvent.request_id == message_id) & (HubEvent.type == "message.status"))
    assert status.body["due"] == m.due.isoformat()
    assert status.body["route"] == "效能监督"
    wang = Desk(hub_app, "wang", create=False)
    zhou = Desk(hub_app, "zhou", create=False)
    boss = Desk(hub_app, "boss", "陈督查", role="supervisor")
    assert m.code not in wang.get("/console/mailbox").get_data(as_text=True)
    assert wang.get(f"/console/mailbox/{m.code}").status_code == 403
    before = mail_state()
    for desk, message in ((wang, "涉及您本人"), (zhou, "由效能监督人员答复")):
        resp = desk.post(
            f"/console/mailbox/{m.code}/reply", {"reply": "已处理", "outcome": "无"}, page="/console/mailbox"
        )
        assert resp.status_code == 403
        assert message in resp.get_data(as_text=True)
    resp = boss.post(f"/console/mailbox/{m.code}/reply", {"reply": "已核实"}, page="/console/mailbox")
    assert resp.status_code == 400
    assert "责任追究" in resp.get_data(as_text=True)
    resp = boss.post(
        f"/console/mailbox/{m.code}/reply", {"reply": "长" * 2001, "outcome": "x"}, page="/console/mailbox"
    )
    assert resp.status_code == 400
    assert "不能超过2000个字" in resp.get_data(as_text=True)
    assert mail_state() == before
    assert (
        boss.post(
            f"/console/mailbox/{m.code}/reply",
            {"reply": "经核实，已对当事人批评教育。感谢监督！", "outcome": "当事人书面检查，通报批评"},
            page="/console/mailbox",
        ).status_code
        == 302
    )
    reply = HubEvent.get((HubEvent.request_id == message_id) & (HubEvent.type == "message.reply"))
    assert reply.body["reply"].startswith("经核实")
    assert reply.body["receipt_code"] == m.code
    # It comes down to the village with the next poll.
    updates = sim.poll()["updates"]
    assert any(u["type"] == "message.reply" and u["reply"].startswith("经核实") for u in updates)
    again = boss.post(f"/console/mailbox/{m.code}/reply", {"reply": "再答", "outcome": "x"}, page="/console/mailbox")
    assert again.status_code == 400
    assert "已经答复" in again.get_data(as_text=True)
    page = boss.get("/console/mailbox").get_data(as_text=True)
    assert 'id="fig-mail-received">1<' in page
    assert 'id="fig-mail-reply-rate">100.0%<' in page
    assert "当事人书面检查，通报批评" in page
    dash = boss.get("/supervision/").get_data(as_text=True)
    assert 'id="fig-messages"' in dash
    assert "100.0%" in dash
    assert {"mailbox.received", "mailbox.replied", "mailbox.refused_reply"} <= {e.action for e in AuditEntry.select()}


def test_bad_village_messages_are_refused_back_to_the_clerk(hub_app, sim) -> None:
    for data, code in (
        ({"content": "长" * 1001}, "too_long"),
        ({"receipt_code": "ZZ2345678"}, "bad_receipt_code"),
        ({"pin": ""}, "bad_pin"),
        ({"category": "x"}, "category"),
        ({"extra": "undeclared"}, "bad_message"),
    ):
        ack, _ = village_message(sim, **data)
        assert ack["accepted"] == 0, (data, ack)
        assert ack["results"][0]["code"] == code, (data, ack)
    assert MailMessage.select().count() == 0
    ack, message_id = village_message(sim)
    code = MailMessage.get().code
    dup = sim.send(
        sim.events(
            ("message.left", message_id, {"category": "consult", "content": "x", "pin": "1111", "receipt_code": code})
        )
    )["ack"]
    assert dup["results"][0]["code"] == "duplicate_message"
    assert MailMessage.select().count() == 1


def test_unanswered_messages_turn_yellow_then_red(hub_app, sim) -> None:
    with hub_time(datetime(2026, 3, 2, 2, 0)):
        leave(hub_app.test_client(), phone="13800001234")
    boss = Desk(hub_app, "boss", "陈督查", role="supervisor")
    with hub_time(datetime(2026, 3, 9, 2, 0)):  # the due day
        page = boss.get("/console/mailbox").get_data(as_text=True)
        assert '<tr class="yellow">' in page
        assert 'id="fig-mail-overdue">0<' in page
    with hub_time(datetime(2026, 3, 10, 2, 0)):
        page = boss.get("/console/mailbox").get_data(as_text=True)
        assert '<tr class="red">' in page
        assert 'id="fig-mail-overdue">1<' in page


def test_hostile_values_from_a_village_are_refused_not_crashed_on(hub_app, sim) -> None:
    for data in (
        {"category": ["complaint"]},
        {"window": ["W05"]},
        {"window": {"a": 1}},
        {"content": {"x": 1}},
        {"name": 7},
        {"phone": ["138"]},
        {"about": ["王芳"]},
        {"pin": 1234},
        {"content": "<svg onload=x>" * 200},
    ):
        ack, _ = village_message(sim, **data)
        assert ack["accepted"] == 0, (data, ack)
        assert ack["results"][0]["status"] == "refused", (data, ack)
    assert MailMessage.select().count() == 0
