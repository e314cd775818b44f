"""报县级 and 公示: a passed-up item waits for the county's answer; 低保 is published 7 days before approval.

Every refused step (approving a pass-up item at the township, a county answer for a case never
passed up or recorded twice, approving 低保 before its 公示 has run) says why in Chinese, changes
nothing, and is audited. Runs on SQLite and PostgreSQL (hub_db_url).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hub import cases, deadlines, figures, publicity
from hub.models import AuditEntry, Case, CountyReferral, Publicity
from hub.staff import create_user
from shared import states
from shared.workdays import WITH_COUNTY
from tests.hub.console_support import hub_cli, Desk, new_case, snapshot
from tests.hub.pages import hub_time
from tests.nodesim import NodeSim


def at(day: str) -> datetime:
    """10:00 in China on that day, as the hub's naive UTC clock."""
    return datetime.fromisoformat(f"{day}T02:00:00")


@pytest.fixture
def wang(hub_app):
    return create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09", "W10"])


def refusals(action: str) -> int:
    """Refused attempts of this action on the audit chain."""
    return sum(
        1
        for a in AuditEntry.select().where(AuditEntry.action == "case.refused_attempt")
        if (a.detail or {}).get("action") == action
    )


def last_update(sim: NodeSim, request_id: str) -> dict:
    ups = [u for u in sim.poll()["updates"] if u["request_id"] == request_id]
    return ups[-1]


def test_housing_item_passed_up_and_answered_by_the_county(sim: NodeSim, wang) -> None:
    with hub_time(at("2026-03-02")):
        code = new_case(sim, "JF-02")
        cases.act(code, "accept", "wang", staff=wang)
        before = snapshot()
        with pytest.raises(cases.CaseError) as exc:
            cases.act(code, "approve", "wang", staff=wang)
        assert exc.value.code == "county_decides"
        assert "报县级" in exc.value.message
        assert snapshot() == before
        assert refusals("approve") == 1
        case = cases.act(code, "to_county", "wang", staff=wang, note="初审通过")
    assert case.state == states.PASSED_UP
    # The one clock rule: the township's time limit stops at the pass-up.
    with hub_time(at("2026-06-30")):
        view = deadlines.clock(Case.get_by_id(case.request_id))
        assert view.state == WITH_COUNTY
        assert view.due is None
        assert not view.overdue
        # The figures apply the same rule: waiting for the county is never the township's overdue.
        rows = [r for r in figures.load_rows() if r.state == states.PASSED_UP]
        assert len(rows) == 1
        assert figures.measure(rows[0], deadlines.calendar(), date(2026, 6, 30)) == (0, False)
    up = last_update(sim, case.request_id)
    assert (up["state"], up["state_label"], up["action"]) == ("passed_up", "初审通过·已报县级", "to_county")
    assert up["deadline"] is None

    with hub_time(at("2026-03-20")):
        for bad, why in (
            ({"doc_no": "", "doc_date": "2026-03-18"}, "文号"),
            ({"doc_no": "×住建〔2026〕7号", "doc_date": "2026-02-01"}, "早于报县级"),
            ({"doc_no": "×住建〔2026〕7号", "doc_date": "明天"}, "格式不对"),
        ):
            before = snapshot()
            with pytest.raises(cases.CaseError) as exc:
                cases.record_county_answer(code, "county_approve", "wang", staff=wang, **bad)
            assert why in exc.value.message
            assert snapshot() == before
        with pytest.raises(cases.CaseError) as exc:
            cases.record_county_answer(
                code, "county_deny", "wang", staff=wang, doc_no="×住建〔2026〕7号", doc_date="2026-03-18"
            )
        assert exc.value.code == "reason_required"
        done = cases.record_county_answer(
            code, "county_approve", "wang", staff=wang, doc_no="×住建〔2026〕7号", doc_date="2026-03-18"
        )
    assert done.state == states.COUNTY_APPROVED
    assert states.is_terminal(done.state)
    row = CountyReferral.get_by_id(done.request_id)
    assert (row.answer, row.doc_no, row.doc_date.isoformat()) == ("county_approved", "×住建〔2026〕7号", "2026-03-18")
    up = last_update(sim, done.request_id)
    assert (up["state_label"], up["county_doc_no"], up["county_doc_date"]) == (
        "县级批准",
        "×住建〔2026〕7号",
        "2026-03-18",
    )
    assert "×住建〔2026〕7号" in up["note"]
    assert AuditEntry.select().where(AuditEntry.action == "case.county_approve").count() == 1

    # Recorded twice: refused, nothing changed, audited.
    before = snapshot()
    with hub_time(at("2026-03-21")), pytest.raises(cases.CaseError) as exc:
        cases.record_county_answer(
            code,
            "county_deny",
            "wang",
            staff=wang,
            doc_no="×住建〔2026〕8号",
            doc_date="2026-03-20",
            reason="不符合条件",
        )
    assert exc.value.code == "already_answered"
    assert "不能重复录入" in exc.value.message
    assert snapshot() == before
    assert refusals("county_deny") >= 2
    assert CountyReferral.get_by_id(done.request_id).doc_no == "×住建〔2026〕7号"


def test_county_answer_for_a_case_never_passed_up_is_refused(sim: NodeSim, wang) -> None:
    with hub_time(at("2026-03-02")):
        code = new_case(sim, "JF-01")
        cases.act(code, "accept", "wang", staff=wang)
        with pytest.raises(cases.CaseError) as exc:
            cases.act(code, "to_county", "wang", staff=wang)
        assert exc.value.code == "not_for_county"
        before = snapshot()
        with pytest.raises(cases.CaseError) as exc:
            cases.record_county_answer(
                code, "county_approve", "wang", staff=wang, doc_no="×〔2026〕1号", doc_date="2026-03-02"
            )
    assert exc.value.code == "not_passed_up"
    assert exc.value.message == "本件没有报县级，不能录入县级批复"
    assert snapshot() == before
    assert refusals("county_approve") == 1
    # Nor can the plain action path set a county state.
    with pytest.raises(cases.CaseError) as exc:
        cases.act(code, "county_approve", "wang", staff=wang)
    assert exc.value.code == "county_answer_form"


def test_county_answer_on_the_console_and_the_public_status_page(hub_app, sim: NodeSim) -> None:
    desk = Desk(hub_app, "li", "李娜", windows=["W10"])
    with hub_time(at("2026-03-02")):
        code = new_case(sim, "FP-03")
        desk.act(code, "accept")
        page = desk.get(f"/console/case/{code}").get_data(as_text=True)
        assert "初审通过·报县级" in page
        assert 'value="approve"' not in page
        assert desk.act(code, "to_county").status_code == 302
        page = desk.get(f"/console/case/{code}").get_data(as_text=True)
        assert "等待县级批复" in page
        assert "录入县级批复" in page
        resp = desk.post(
            f"/console/case/{code}/county",
            {"answer": "county_deny", "doc_no": "×卫健〔2026〕3号", "doc_date": "2026-03-02", "reason": ""},
        )
        assert resp.status_code == 400
        assert "县级不予批准须写明县级给出的理由" in resp.get_data(as_text=True)
        resp = desk.post(
            f"/console/case/{code}/county",
            {
                "answer": "county_deny",
                "doc_no": "×卫健〔2026〕3号",
                "doc_date": "2026-03-02",
                "reason": "子女伤残等级不符",
            },
        )
        assert resp.status_code == 302
        page = desk.get(f"/console/case/{code}").get_data(as_text=True)
        assert "×卫健〔2026〕3号" in page
        assert "县级不予批准" in page
        again = desk.post(
            f"/console/case/{code}/county",
            {"answer": "county_approve", "doc_no": "×〔2026〕9号", "doc_date": "2026-03-02"},
        )
        assert again.status_code == 409
        assert "不能重复录入" in again.get_data(as_text=True)
        public = hub_app.test_client().get(f"/status?code={code}&tail=8000").get_data(as_text=True)
    assert "县级不予批准" in public
    assert "×卫健〔2026〕3号" in public
    assert "子女伤残等级不符" in public


def test_dibao_is_published_seven_days_before_approval(hub_app, sim: NodeSim, wang) -> None:
    with hub_time(at("2026-03-02")):
        code = new_case(sim, "DB-01", name="李四光")
        cases.act(code, "accept", "wang", staff=wang)
        before = snapshot()
        with pytest.raises(cases.CaseError) as exc:
            cases.act(code, "approve", "wang", staff=wang)
        assert exc.value.code == "publicity_required"
        assert "公示 7 天" in exc.value.message
        assert snapshot() == before
        assert refusals("approve") == 1
        case = publicity.start(code, "wang", wang)
        up = last_update(sim, case.request_id)
        assert (up["action"], up["publicity_start"], up["publicity_end"]) == (
            "publicity_started",
            "2026-03-02",
            "2026-03-08",
        )
        with pytest.raises(cases.CaseError) as exc:
            publicity.start(code, "wang", wang)
        assert exc.value.code == "publicity_exists"
        publicity.object_to(code, "其子在外务工收入较高", "已入户核实，收入已计入", "wang", wang)
        with pytest.raises(cases.CaseError):
            publicity.object_to(code, "  ", "", "wang", wang)
    with hub_time(at("2026-03-05")):
        listing = Desk(hub_app, "zhou", "周敏", windows=["W05"]).get("/console/publicity").get_data(as_text=True)
        assert "李**" in listing
        assert "李四光" not in listing
        assert "桃源村" in listing
        with pytest.raises(cases.CaseError) as exc:
            cases.act(code, "approve", "wang", staff=wang)
        assert exc.value.code == "publicity_running"
    with hub_time(at("2026-03-08")), pytest.raises(cases.CaseError) as exc:
        publicity.end(code, "wang", wang)
    assert exc.value.code == "publicity_running"
    assert refusals("publicity_end") == 1
    with hub_time(at("2026-03-09")):
        case = publicity.end(code, "wang", wang)
        up = last_update(sim, case.request_id)
        assert up["action"] == "publicity_ended"
        assert up["objections"] == 1
        done = cases.act(code, "approve", "wang", staff=wang)
    assert done.state == states.APPROVED
    row = Publicity.get_by_id(done.request_id)
    assert row.objections[0]["text"] == "其子在外务工收入较高"
    assert row.ended_by == "wang"
    # Objections stay at the township: nothing of them travels to the village but their count.
    assert all("其子" not in str(u) for u in sim.poll()["updates"])


def test_the_cli_records_the_county_answer_through_the_same_rule(hub_app, sim: NodeSim, wang) -> None:
    def county_approves(code: str):
        return hub_cli(
            hub_app,
            "county-answer",
            code,
            "county_approve",
            "--doc-no",
            "×卫健〔2026〕2号",
            "--doc-date",
            cases.today().isoformat(),
            "--actor",
            "wang",
        )

    code = new_case(sim, "FP-02")
    assert hub_cli(hub_app, "act", code, "accept", "--actor", "wang").exit_code == 0
    out = county_approves(code)
    assert out.exit_code == 2
    assert "本件没有报县级" in out.output
    assert hub_cli(hub_app, "act", code, "to_county", "--actor", "wang").exit_code == 0
    out = county_approves(code)
    assert out.exit_code == 0
    assert "县级批准" in out.output
    assert CountyReferral.get(CountyReferral.doc_no == "×卫健〔2026〕2号").answer == states.COUNTY_APPROVED
