"""SMS to villagers: queued with the state change, sent once through a provider that checks signatures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from hub import cases, sms
from hub.clock import now
from hub.enrolment import issue_code
from hub.models import Case, HubEvent, SmsMessage
from hub.staff import create_user
from tests.hub.aliyun_sms_server import FakeAliyun
from tests.hub.pages import captured, hub_time
from tests.nodesim import NodeSim

KEY_ID, SECRET = "LTAI-test-key", "test-secret-never-in-repo"


@pytest.fixture
def provider() -> Iterator[FakeAliyun]:
    with FakeAliyun({KEY_ID: SECRET}) as server:
        yield server


@pytest.fixture
def hub(hub_app, provider):
    hub_app.config.update(
        SMS_PROVIDER="aliyun",
        SMS_ACCESS_KEY_ID=KEY_ID,
        SMS_ACCESS_KEY_SECRET=SECRET,
        SMS_SIGN_NAME="桃源镇政务服务",
        SMS_TEMPLATE_CODE="SMS_123456",
        SMS_ENDPOINT=provider.url,
        # Generous: on a loaded CI machine the fake provider took longer than 0.5 s to answer, and a
        # late answer is an unknown outcome, not the retry or send a test expects.
        SMS_TIMEOUT_S=10,
    )
    create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09", "W10"])
    with hub_app.app_context():
        yield hub_app


def configured() -> sms.SmsSender:
    """The sender the hub's settings configure (these tests always configure one)."""
    sender = sms.configured_sender()
    assert sender is not None
    return sender


def new_case(hub_app: Any, consent: bool = True, phone: str = "13800138000") -> Case:
    sim = NodeSim(hub_app.test_client(), issue_code(f"村{SmsMessage.select().count()}{Case.select().count()}"))
    ev = captured(sim, "DB-03")
    ev[2]["sms"] = consent
    ev[2]["applicant"]["phone"] = phone
    sim.send(sim.events(ev))
    return Case.get_by_id(ev[1])


def test_a_state_change_queues_one_sms_sent_once_with_the_code_and_next_step(hub, provider) -> None:
    case = new_case(hub)
    assert SmsMessage.select().count() == 0  # receipt itself sends nothing
    cases.act(case.receipt_code, "ask_materials", "wang", missing=["M-INCOME"])
    msg = SmsMessage.get()
    assert msg.state == "queued"
    assert msg.phone == "13800138000"
    assert msg.params["code"] == case.receipt_code
    assert "家庭收入及财产状况声明" in msg.params["next"]
    # Queuing the same announcement again changes nothing: one SMS per state change.
    event = HubEvent.select().where(HubEvent.request_id == case.request_id).order_by(HubEvent.cseq.desc()).get()
    sms.queue_status_sms(case, event)
    assert SmsMessage.select().count() == 1
    assert sms.deliver_due(configured()) == {"sent": 1, "retry": 0, "failed": 0, "unknown": 0, "skipped": 0}
    assert sms.deliver_due(configured())["sent"] == 0
    assert len(provider.received) == 1
    q = provider.received[0]
    assert q["PhoneNumbers"] == "13800138000"
    assert q["SignName"] == "桃源镇政务服务"
    assert q["TemplateCode"] == "SMS_123456"
    assert json.loads(q["TemplateParam"])["code"] == case.receipt_code
    assert SmsMessage.get().state == "sent"
    assert SmsMessage.get().provider_id == "biz1"


def test_the_provider_refuses_a_wrongly_signed_request(hub, provider) -> None:
    bad = sms.AliyunSms(KEY_ID, "wrong-secret", "桃源镇政务服务", endpoint=provider.url)
    with pytest.raises(sms.SmsPermanentError) as exc:
        bad.send("13800138000", "SMS_1", {"code": "X"}, out_id="1")
    assert exc.value.code == "SignatureDoesNotMatch"
    assert provider.received == []
    good = sms.AliyunSms(KEY_ID, SECRET, "桃源镇政务服务", endpoint=provider.url)
    params = good.request_params("13800138000", "SMS_1", {"code": "22A-BCD-EFG", "next": "请带户口簿 ~*+ 来"}, "7")
    tampered = dict(params, PhoneNumbers="13900000000")
    import requests

    resp = requests.get(provider.url, params=tampered, timeout=5)
    assert resp.json()["Code"] == "SignatureDoesNotMatch"
    assert requests.get(provider.url, params=params, timeout=5).json()["Code"] == "OK"
    assert requests.get(provider.url, params=params, timeout=5).json()["Code"] == "SignatureNonceUsed"  # replay


def test_errors_are_retried_with_backoff_and_still_sent_only_once(hub, provider) -> None:
    case = new_case(hub)
    cases.act(case.receipt_code, "refuse", "wang", reason="不符合条件", legal_basis="《社会救助暂行办法》")
    provider.script = ["500", "limit"]
    sender = configured()
    start = now()
    with hub_time(start):
        assert sms.deliver_due(sender)["retry"] == 1
        assert sms.deliver_due(sender)["retry"] == 0  # not due yet: it backs off
    msg = SmsMessage.get()
    assert msg.state == "queued"
    assert msg.attempts == 1
    assert msg.next_at == start + timedelta(minutes=1)
    assert "isp.SYSTEM_ERROR" in msg.last_error
    with hub_time(start + timedelta(minutes=1)):
        assert sms.deliver_due(sender)["retry"] == 1
    assert SmsMessage.get().next_at == start + timedelta(minutes=3)
    with hub_time(start + timedelta(minutes=3)):
        assert sms.deliver_due(sender)["sent"] == 1
    with hub_time(start + timedelta(hours=2)):
        assert sms.deliver_due(sender)["sent"] == 0
    assert len(provider.received) == 1
    assert provider.refused == ["isp.SYSTEM_ERROR", "isv.BUSINESS_LIMIT_CONTROL"]
    assert SmsMessage.get().attempts == 3


def test_a_timeout_after_sending_is_never_resent_and_a_final_refusal_is_not_retried(hub, provider) -> None:
    a, b = new_case(hub), new_case(hub)
    cases.act(a.receipt_code, "accept", "wang")
    provider.script = ["slow"]
    hub.config["SMS_TIMEOUT_S"] = 0.5  # the provider answers after provider.slow_s (2 s)
    assert sms.deliver_due(configured())["unknown"] == 1
    hub.config["SMS_TIMEOUT_S"] = 10
    sender = configured()
    msg = SmsMessage.get()
    assert msg.state == "unknown"
    assert "是否已发送未知" in msg.last_error
    with hub_time(now() + timedelta(days=1)):
        assert sms.deliver_due(sender) == {"sent": 0, "retry": 0, "failed": 0, "unknown": 0, "skipped": 0}
    cases.act(b.receipt_code, "accept", "wang")
    provider.script = ["illegal"]
    assert sms.deliver_due(sender)["failed"] == 1
    with hub_time(now() + timedelta(days=1)):
        assert sms.deliver_due(sender)["failed"] == 0
    assert len(provider.received) == 1  # the slow one reached the provider once, and only once


def test_a_provider_that_is_down_never_blocks_staff_and_is_retried(hub, provider) -> None:
    case = new_case(hub)
    provider.httpd.shutdown()
    provider.httpd.server_close()
    done = cases.act(case.receipt_code, "accept", "wang")  # the staff action does not wait for any SMS
    assert done.state == "accepted"
    assert SmsMessage.get().state == "queued"
    assert sms.deliver_due(configured())["retry"] == 1
    assert "connect" in SmsMessage.get().last_error


def test_no_consent_no_mobile_opt_out_or_no_provider_means_no_sms(hub, provider) -> None:
    cases.act(new_case(hub, consent=False).receipt_code, "accept", "wang")
    assert SmsMessage.select().count() == 0
    opted = new_case(hub, phone="13911112222")
    sms.opt_out("139 1111 2222", "王芳")
    cases.act(opted.receipt_code, "accept", "wang")
    assert SmsMessage.select().count() == 0
    # Opting out after queuing: the queued message is skipped, never sent.
    later = new_case(hub, phone="13733334444")
    cases.act(later.receipt_code, "accept", "wang")
    assert SmsMessage.get().state == "queued"
    sms.opt_out("13733334444", "李文书")
    assert SmsMessage.get().state == "skipped"
    assert sms.deliver_due(configured())["sent"] == 0
    assert provider.received == []
    with pytest.raises(ValueError, match="11位"):
        sms.opt_out("12345", "x")
    hub.config["SMS_PROVIDER"] = ""
    assert sms.configured_sender() is None
    cases.act(new_case(hub).receipt_code, "accept", "wang")
    assert SmsMessage.select().count() == 1
    assert sms.deliver_job() == {}


def test_supervisor_sees_the_queue_and_records_an_opt_out(hub_app, provider) -> None:
    from tests.hub.console_support import Desk

    # The pages run in their own request contexts: only the staff action needs this one.
    with hub_app.app_context():
        hub_app.config.update(
            SMS_PROVIDER="aliyun",
            SMS_ACCESS_KEY_ID=KEY_ID,
            SMS_ACCESS_KEY_SECRET=SECRET,
            SMS_SIGN_NAME="桃源镇政务服务",
            SMS_TEMPLATE_CODE="SMS_1",
            SMS_ENDPOINT=provider.url,
        )
        create_user("wang", "王芳", "secret-pass", "staff", ["W05"])
        cases.act(new_case(hub_app).receipt_code, "accept", "wang")
    assert Desk(hub_app, "wang", create=False).get("/console/sms").status_code == 403
    boss = Desk(hub_app, "boss", "陈督查", role="supervisor")
    page = boss.get("/console/sms").get_data(as_text=True)
    assert "短信发送已开启" in page
    assert "138****8000" in page
    assert "13800138000" not in page
    assert "待发送" in page
    resp = boss.post("/console/sms", {"phone": "<script>"}, page="/console/sms")
    assert resp.status_code == 400
    assert "11位" in resp.get_data(as_text=True)
    assert "<script>" not in resp.get_data(as_text=True)
    assert boss.post("/console/sms", {"phone": "13800138000"}, page="/console/sms").status_code == 302
    assert sms.opted_out("13800138000")
    assert SmsMessage.get().state == "skipped"
