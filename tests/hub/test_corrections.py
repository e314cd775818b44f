"""Corrections of a captured request, both ways between a node and the hub (in-process transport, SQLite and PG)."""

from __future__ import annotations

import pytest

from hub import cases
from hub.corrections import correct as hub_correct
from hub.db import database as hub_db
from hub.models import AuditEntry, Case, HubEvent, NodeEvent
from hub.staff import create_user
from node.capture import capture_request
from node.corrections import correct as node_correct
from node.db import database as node_db
from node.models import Event, Request
from node.requests_views import timeline
from shared.corrections import CorrectionError
from tests.factories import capture
from hub.enrolment import issue_code
from shared import china_time
from tests.hub.console_support import Desk, new_case
from tests.nodesim import NodeSim
from tests.linked import Linked, link


@pytest.fixture
def linked(hub_app, node_app) -> Linked:
    return link(hub_app, node_app)


def _captured(linked: Linked, name: str = "张三") -> str:
    linked.client().round()
    with node_db.connection_context():
        code = capture_request(capture("FP-01", name=name), "李代办").receipt_code
    linked.client().round()
    return code


def _audit(action: str, target: str) -> list[AuditEntry]:
    return list(
        AuditEntry.select()
        .where((AuditEntry.action == action) & (AuditEntry.target == target))
        .order_by(AuditEntry.seq)
    )


def test_the_clerks_correction_before_acceptance_reaches_the_hub_with_its_reason(linked: Linked) -> None:
    code = _captured(linked, "张山")
    with node_db.connection_context():
        fix = node_correct(code, "applicant.name", "张三", "身份证上是“三”，录入时错打", "李代办")
        req = Request.get(Request.receipt_code == code)
        assert (fix.old, req.applicant_name, req.data["applicant"]["name"]) == ("张山", "张三", "张三")
        assert Event.get(Event.type == "request.corrected").data["reason"] == "身份证上是“三”，录入时错打"
    linked.client().round()
    case = Case.get(Case.receipt_code == code)  # the receipt code stays
    assert (case.applicant_name, case.captured["applicant"]["name"]) == ("张三", "张三")
    assert NodeEvent.get(NodeEvent.type == "request.corrected").result == "ok"
    [entry] = _audit("case.corrected", code)
    assert (entry.actor, entry.detail["old"], entry.detail["value"], entry.detail["by"]) == (
        "李代办",
        "张山",
        "张三",
        "clerk",
    )
    with node_db.connection_context():
        assert Event.get(Event.type == "request.corrected").result == "ok"
        rows = timeline(Request.get(Request.receipt_code == code))
    assert any(
        r["what"] == "更正登记内容" and "“张山”改为“张三”" in r["detail"] and "录入时错打" in r["detail"] for r in rows
    )


def test_window_staffs_correction_goes_down_to_the_village_and_shows_in_its_history(linked: Linked) -> None:
    code = _captured(linked)
    create_user("wang", "王芳", "secret-pass", "staff", [Case.get(Case.receipt_code == code).window])
    staff = cases.Staff.get(cases.Staff.username == "wang")
    cases.act(code, "accept", "wang", staff=staff)
    hub_correct(code, "applicant.phone", "13900139000", "群众来电更换了手机号", "wang", staff)
    assert Case.get(Case.receipt_code == code).phone == "13900139000"
    down = HubEvent.get(HubEvent.type == "case.corrected")
    assert (down.body["old"], down.body["value"], down.body["actor_name"]) == ("13800138000", "13900139000", "王芳")
    linked.client().round()
    with node_db.connection_context():
        req = Request.get(Request.receipt_code == code)
        assert (req.phone, req.data["applicant"]["phone"]) == ("13900139000", "13900139000")
        rows = timeline(req)
    corrected = [r for r in rows if r["what"] == "中心更正登记内容"]
    assert corrected
    assert corrected[0]["who"] == "王芳"
    assert "群众来电更换了手机号" in corrected[0]["detail"]
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), key=china_time.sort_key)


def test_the_clerk_cannot_correct_after_the_hubs_acceptance(linked: Linked) -> None:
    code = _captured(linked)
    cases.act(code, "accept", "system")
    linked.client().round()
    with node_db.connection_context():
        before = Request.get(Request.receipt_code == code).data
        with pytest.raises(CorrectionError) as err:
            node_correct(code, "applicant.name", "李四", "录错", "李代办")
        assert "中心已受理此件" in err.value.message
        assert Request.get(Request.receipt_code == code).data == before
        assert not Event.select().where(Event.type == "request.corrected").exists()


def test_a_correction_that_crosses_the_hubs_acceptance_is_refused_there_and_told_to_the_village(linked: Linked) -> None:
    code = _captured(linked, "张山")
    with node_db.connection_context():
        node_correct(code, "applicant.name", "张三", "录错", "李代办")  # the hub has not accepted yet, here
    cases.act(code, "accept", "system")  # ... but accepts before the correction arrives
    linked.client().round()
    case = Case.get(Case.receipt_code == code)
    assert case.applicant_name == "张山"  # nothing changed
    refused = NodeEvent.get(NodeEvent.type == "request.corrected")
    assert refused.result == "refused"
    assert "中心已受理此件" in refused.reason
    [attempt] = _audit("case.refused_attempt", code)
    assert attempt.detail["action"] == "correct"
    assert attempt.detail["code"] == "already_accepted"
    with node_db.connection_context():
        ev = Event.get(Event.type == "request.corrected")
        assert ev.result == "refused"
        assert "中心已受理此件" in ev.result_message


def test_correcting_a_closed_case_is_refused_nothing_changes_and_the_attempt_is_audited(hub_app) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "JF-01")
    cases.act(code, "refuse", "system", reason="不属于本中心受理范围", legal_basis="行政许可法第三十二条")
    before = (Case.get(Case.receipt_code == code).captured, HubEvent.select().count())
    with pytest.raises(cases.CaseError) as err:
        hub_correct(code, "applicant.name", "李四", "录错", "system", None)
    assert err.value.code == "case_closed"
    assert "办理已终结，不能更正" in err.value.message
    assert (Case.get(Case.receipt_code == code).captured, HubEvent.select().count()) == before
    assert _audit("case.refused_attempt", code)[-1].detail == {
        "action": "correct",
        "code": "case_closed",
        "field": "applicant.name",
    }


@pytest.mark.parametrize(
    "field,value,reason,words",
    [
        ("applicant.id_number", "12345", "录错", "身份证号码应为18位"),
        ("applicant.name", "李四", "", "请填写更正原因"),
        ("applicant.name", "张三", "录错", "与原内容相同"),
        ("receipt_code", "220000000", "改号", "请选择要更正的项目"),
        ("applicant.name", "李" * 600, "录错", "不超过500字"),
    ],
)
def test_bad_corrections_at_the_console_say_why_in_chinese_and_change_nothing(
    hub_app, field, value, reason, words
) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "JF-01", name="张三")
    desk = Desk(hub_app, "wang", "王芳", windows=[Case.get(Case.receipt_code == code).window])
    before = Case.get(Case.receipt_code == code).captured
    resp = desk.post(f"/console/case/{code}/correct", {"field": field, "value": value, "reason": reason})
    assert resp.status_code == 400
    assert words in resp.get_data(as_text=True)
    assert Case.get(Case.receipt_code == code).captured == before


def test_a_correction_at_the_console_is_in_the_case_history_with_its_reason(hub_app) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "JF-01", name="张山")
    window = Case.get(Case.receipt_code == code).window
    desk = Desk(hub_app, "wang", "王芳", windows=[window])
    resp = desk.post(
        f"/console/case/{code}/correct",
        {"field": "applicant.name", "value": "张三", "reason": "与户口簿核对，录入错字"},
    )
    assert resp.status_code == 302
    page = desk.get(f"/console/case/{code}").get_data(as_text=True)
    history = page[page.index("办理记录") :]
    assert "更正申请人姓名：“张山”改为“张三”；原因：与户口簿核对，录入错字" in history
    assert "王芳" in history
    assert ">wang<" not in history
    with hub_db.atomic():
        assert Case.get(Case.receipt_code == code).receipt_code == code


def test_a_hostile_correction_on_the_wire_is_refused_for_that_event_only(hub_app) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "JF-01", name="张山")
    case = Case.get(Case.receipt_code == code)
    answer = sim.send(
        sim.events(
            (
                "request.corrected",
                case.request_id,
                {"field": "applicant.name", "value": "张三", "reason": "r", "state": "approved"},
            ),
            ("request.corrected", case.request_id, {"field": "applicant.name", "value": "张三", "reason": "录错"}),
        )
    )
    [refused] = answer["ack"]["results"]
    assert (refused["code"], refused["message"]) == ("bad_correction", "更正内容格式错误（须写明更正项目、内容和原因）")
    case = Case.get(Case.receipt_code == code)
    assert (case.applicant_name, case.state) == ("张三", "received")  # the second, well-formed one applied
