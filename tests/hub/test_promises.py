"""The centre's promises, exactly: 一次告知 and 补正, 受理 when complete, 限时办结 with extensions, the calendar.

Each bad input (second 补正 without override, accepting with materials missing, an extension
without approval, a supplement for a closed case) gets a Chinese message, changes nothing,
and leaves an audit entry. Every test runs on SQLite and PostgreSQL (hub_db_url).
"""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from hub import cases, deadlines, figures, promises, queue
from hub.audit import verify
from hub.doctor import check_calendar
from hub.holidays import change_calendar
from hub.models import AuditEntry, Case, Extension, HubEvent
from hub.staff import create_user
from hub.sweep import run_sweep
from shared.papers import document
from tests.hub.console_support import snapshot
from tests.hub.pages import captured, hub_time, supplemented
from tests.nodesim import NodeSim

# DB-01 农村最低生活保障申请: 30 working days; required M-ID, M-HUKOU, M-APPLICATION, M-INCOME, M-CHECK-AUTH …
DB01 = "DB-01"


def at(day: str, hour: int = 2) -> datetime:
    """A naive UTC time that is 10:00 in China on that day (hour=2), or another hour UTC."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00")


@pytest.fixture
def people(hub_app):
    staff = create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09", "W10"])
    boss = create_user("zhao", "赵主任", "secret-pass", "supervisor", [])
    return staff, boss


def receive(sim: NodeSim, day: str, item: str = DB01, missing: list[str] | None = None, hour: int = 2) -> Case:
    with hub_time(at(day, hour)):
        ev = captured(sim, item, missing=missing)
        ack = sim.send(sim.events(ev))
    assert ack["ack"]["results"] == [] or all(r["status"] == "ok" for r in ack["ack"]["results"]), ack
    return Case.get_by_id(ev[1])


def supply(sim: NodeSim, case: Case, day: str, materials: list[str]) -> dict:
    with hub_time(at(day)):
        return sim.send(sim.events(supplemented(case.request_id, materials)))


def last_update(case: Case) -> dict:
    return HubEvent.select().where(HubEvent.request_id == case.request_id).order_by(HubEvent.cseq.desc()).first().body


def refused_attempts() -> int:
    return AuditEntry.select().where(AuditEntry.action == "case.refused_attempt").count()


def test_missing_at_village_waits_unclocked_partial_keeps_waiting_complete_starts_clock(sim, people) -> None:
    case = receive(sim, "2026-11-02", missing=["M-HUKOU", "M-INCOME"])
    assert case.state == "needs_materials"
    assert case.deadline is None
    assert case.clock_start is None
    assert case.paused_since is None
    assert case.materials_asks == 1
    assert case.materials_asked_on == date(2026, 11, 2)  # the village's notice
    view = deadlines.clock(case, on=date(2026, 11, 20))
    assert (view.state, view.due, view.colour, view.overdue) == ("waiting", None, None, False)
    body = last_update(case)
    assert body["clock"] == "waiting"
    assert body["deadline"] is None
    assert run_sweep(date(2026, 11, 20))["unclocked"] == 1

    supply(sim, case, "2026-11-05", ["M-HUKOU"])
    part = Case.get_by_id(case.request_id)
    assert part.state == "needs_materials"
    assert part.deadline is None
    assert part.materials_missing == ["M-INCOME"]
    body = last_update(part)
    assert body["complete"] is False
    assert body["missing_names"] == ["家庭收入及财产状况声明"]
    assert body["deadline"] is None

    supply(sim, case, "2026-11-09", ["M-INCOME"])
    done = Case.get_by_id(case.request_id)
    # 受理 happens when the materials are complete: 30 working days from Mon 2026-11-09.
    assert done.state == "received"
    assert done.materials_missing == []
    assert done.clock_start == date(2026, 11, 9)
    assert done.deadline == deadlines.calendar().add_workdays(date(2026, 11, 9), 30)
    assert last_update(done)["clock"] == "running"


def test_accepting_with_materials_missing_is_refused_and_audited(sim, people) -> None:
    staff, _ = people
    case = receive(sim, "2026-11-02", missing=["M-HUKOU"])
    before, attempts = snapshot(), refused_attempts()
    with pytest.raises(cases.CaseError) as err:
        cases.act(case.receipt_code, "accept", "wang", staff=staff)
    assert err.value.code == "materials_missing"
    assert "户口簿" in err.value.message
    assert "不能受理" in err.value.message
    assert snapshot() == before
    assert refused_attempts() == attempts + 1


def test_hub_asks_once_second_needs_supervisor_override_with_reason(sim, people) -> None:
    staff, boss = people
    case = receive(sim, "2026-11-02")
    with hub_time(at("2026-11-03")):
        cases.act(case.receipt_code, "accept", "wang", staff=staff)
        first = cases.act(case.receipt_code, "ask_materials", "wang", staff=staff, missing=["M-HUKOU"])
    assert first.materials_asks == 1
    assert first.paused_since == date(2026, 11, 3)
    supply(sim, case, "2026-11-05", ["M-HUKOU"])
    assert Case.get_by_id(case.request_id).state == "accepted"
    before, attempts = snapshot(), refused_attempts()
    with hub_time(at("2026-11-06")):
        with pytest.raises(cases.CaseError) as err:
            cases.act(case.receipt_code, "ask_materials", "wang", staff=staff, missing=["M-ID"])
        assert err.value.code == "second_request"
        assert "一次告知" in err.value.message
        with pytest.raises(cases.CaseError) as err:  # staff cannot override themselves
            cases.act(case.receipt_code, "ask_materials", "wang", staff=staff, missing=["M-ID"], override="复印件不清")
        assert err.value.code == "override_not_allowed"
    assert snapshot() == before
    assert refused_attempts() == attempts + 2
    assert promises.override_count() == 0
    with hub_time(at("2026-11-06")):
        second = cases.act(
            case.receipt_code,
            "ask_materials",
            "zhao",
            staff=boss,
            missing=["M-ID"],
            override="身份证复印件模糊无法核对，经核实确需重交",
        )
    assert second.state == "needs_materials"
    assert second.materials_asks == 2
    assert promises.override_count() == 1
    assert last_update(second)["override_reason"].startswith("身份证复印件模糊")
    assert verify()[1] is None


def test_a_village_notice_counts_as_the_one_notice(sim, people) -> None:
    staff, _ = people
    case = receive(sim, "2026-11-02", missing=["M-HUKOU"])
    supply(sim, case, "2026-11-03", ["M-HUKOU"])
    with pytest.raises(cases.CaseError) as err:
        cases.act(case.receipt_code, "ask_materials", "wang", staff=staff, missing=["M-ID"])
    assert err.value.code == "second_request"


def test_partial_supplement_after_acceptance_keeps_the_clock_paused(sim, people) -> None:
    staff, _ = people
    case = receive(sim, "2026-11-02")
    with hub_time(at("2026-11-02")):
        cases.act(case.receipt_code, "accept", "wang", staff=staff)
    due = Case.get_by_id(case.request_id).deadline
    with hub_time(at("2026-11-04")):
        cases.act(case.receipt_code, "ask_materials", "wang", staff=staff, missing=["M-HUKOU", "M-ID"])
    supply(sim, case, "2026-11-06", ["M-ID"])
    part = Case.get_by_id(case.request_id)
    assert part.state == "needs_materials"
    assert part.paused_since == date(2026, 11, 4)
    assert part.deadline == due
    assert part.materials_missing == ["M-HUKOU"]
    assert deadlines.clock(part, on=date(2026, 11, 10)).state == "paused"
    supply(sim, case, "2026-11-10", ["M-HUKOU"])
    back = Case.get_by_id(case.request_id)
    # Paused working days in (Nov 4, Nov 10]: 5, 6, 9, 10 = 4.
    assert back.state == "accepted"
    assert back.paused_days == 4
    assert back.deadline == deadlines.calendar().add_workdays(due, 4)


def test_supplement_for_a_closed_case_is_refused_and_audited(sim, people) -> None:
    staff, _ = people
    case = receive(sim, "2026-11-02")
    cases.act(
        case.receipt_code,
        "refuse",
        "wang",
        staff=staff,
        reason="不属于本镇受理范围",
        legal_basis="《社会救助暂行办法》第十一条",
    )
    before, attempts = snapshot(), refused_attempts()
    ack = supply(sim, case, "2026-11-05", ["M-HUKOU"])
    result = ack["ack"]["results"][0]
    assert result["status"] == "refused"
    assert result["code"] == "case_closed"
    assert "不能再补正" in result["message"]
    cases_before, hub_events_before, *rest = before
    cases_after, hub_events_after, *rest_after = snapshot()
    assert cases_after == cases_before
    assert rest_after == rest
    assert hub_events_after == hub_events_before + 1  # only the refusal told to the village
    assert refused_attempts() == attempts + 1


def test_extension_needs_a_supervisor_then_moves_the_due_date_and_tells_the_village(sim, people) -> None:
    staff, boss = people
    case = receive(sim, "2026-11-02")
    with hub_time(at("2026-11-02")):
        cases.act(case.receipt_code, "accept", "wang", staff=staff)
    due = Case.get_by_id(case.request_id).deadline
    before, attempts = snapshot(), refused_attempts()
    for days, reason, code in [(0, "入户调查", "bad_days"), (31, "入户调查", "bad_days"), (10, " ", "reason_required")]:
        with pytest.raises(cases.CaseError) as err:
            cases.request_extension(case.receipt_code, days, reason, "wang", staff=staff)
        assert err.value.code == code
    ext = cases.request_extension(case.receipt_code, 10, "需入户核查家庭经济状况", "wang", staff=staff)
    assert Case.get_by_id(case.request_id).deadline == due  # nothing moves before approval
    with pytest.raises(cases.CaseError) as err:
        cases.decide_extension(ext.id, True, "wang", staff)
    assert err.value.code == "not_supervisor"
    assert "批准" in err.value.message
    assert snapshot() == before
    assert refused_attempts() == attempts + 4
    with hub_time(at("2026-11-20")):
        done = cases.decide_extension(ext.id, True, "zhao", boss, "同意延长")
    assert done.deadline == deadlines.calendar().add_workdays(due, 10)
    row = Extension.get_by_id(ext.id)
    assert (row.status, row.old_deadline, row.new_deadline, row.decided_by) == ("approved", due, done.deadline, "zhao")
    body = last_update(done)
    assert body["action"] == "extended"
    assert body["deadline"] == done.deadline.isoformat()
    doc = document(body["paper"], 1)
    assert doc["title"] == "延期办理告知书"
    assert "需入户核查家庭经济状况" in doc["paragraphs"][0]
    with pytest.raises(cases.CaseError) as err:
        cases.decide_extension(ext.id, True, "zhao", boss)
    assert err.value.code == "already_decided"


def test_immediate_item_is_on_time_when_completed_the_day_it_is_accepted(sim, people) -> None:
    staff, _ = people
    # FP-01 arrives Friday 2026-11-06 at 22:00 China time (14:00 UTC), after hours.
    case = receive(sim, "2026-11-06", item="FP-01", hour=14)
    assert case.received_on == date(2026, 11, 6)
    with hub_time(at("2026-11-09")):
        done = cases.act(case.receipt_code, "approve", "wang", staff=staff)
    assert done.accepted_on == date(2026, 11, 9)
    assert done.deadline == date(2026, 11, 9)
    fig = figures.summarise(figures.load_rows(), deadlines.calendar(), date(2026, 11, 9))
    assert (fig.completed, fig.on_time, fig.late) == (1, 1, 0)


def test_notice_within_five_working_days_is_flagged_when_missed(sim, people) -> None:
    staff, _ = people
    slow = receive(sim, "2026-11-02")
    quick = receive(sim, "2026-11-02")
    with hub_time(at("2026-11-04")):
        cases.act(quick.receipt_code, "ask_materials", "wang", staff=staff, missing=["M-ID"])
    cal = deadlines.calendar()
    assert not deadlines.notice_overdue(Case.get_by_id(slow.request_id), cal, date(2026, 11, 9))  # 5th working day
    assert deadlines.notice_overdue(Case.get_by_id(slow.request_id), cal, date(2026, 11, 10))
    assert not deadlines.notice_overdue(Case.get_by_id(quick.request_id), cal, date(2026, 11, 10))
    assert [c.receipt_code for c in promises.late_notices(date(2026, 11, 10))] == [slow.receipt_code]
    with hub_time(at("2026-11-10")):
        late = cases.act(slow.receipt_code, "ask_materials", "wang", staff=staff, missing=["M-ID"])
    assert deadlines.notice_overdue(late, cal, date(2026, 11, 10))  # went out on the 6th working day


def test_one_rule_for_queue_sweep_watch_list_metrics_and_figures(sim, people) -> None:
    staff, _ = people
    running = receive(sim, "2026-10-08", item="DB-03")  # 10 working days (make-up Saturday Oct 10 counts)
    receive(sim, "2026-10-08", missing=["M-HUKOU"])  # waiting: no clock, never overdue
    closed = receive(sim, "2026-10-08", item="DB-03")
    cases.act(closed.receipt_code, "refuse", "wang", staff=staff, reason="重复申请", legal_basis="《社会救助暂行办法》")
    on = date(2026, 11, 2)
    cal = deadlines.calendar()
    all_cases = list(Case.select())
    views = {c.receipt_code: deadlines.clock(c, cal, on) for c in all_cases}
    assert views[running.receipt_code].overdue
    assert views[running.receipt_code].due == cal.add_workdays(date(2026, 10, 8), 10)
    assert views[closed.receipt_code].due is None
    assert views[closed.receipt_code].state == "closed"
    lines = queue.rows(all_cases, cases.current_catalogue(), cal, on, {})
    for line in lines:
        assert line["due"] == views[line["case"].receipt_code].due
    assert run_sweep(on)["red"] == 1
    assert deadlines.overdue_by_window(cal, on) == {running.window: 1}
    fig = figures.summarise(figures.load_rows(), cal, on)
    assert fig.overdue_open == 1


def test_calendar_warns_for_a_case_reaching_a_year_nobody_covers(sim, people, hub_app) -> None:
    # Received 2026-12-31: its 30 working days reach into 2027, which chinesecalendar does not know.
    case = receive(sim, "2026-12-31")
    assert case.deadline.year == 2027
    assert deadlines.calendar_gaps(on=date(2026, 9, 1)) == [2027]
    with hub_time(at("2026-09-01")):
        warning = promises.calendar_warning()
        finding = check_calendar()
    assert warning is not None
    assert "2027 年" in warning
    assert "周一至周五" in warning
    assert finding.level == "warn"
    assert "2027" in finding.message
    with hub_time(at("2026-09-01")):
        change_calendar("2027-02-11", "holiday", "add", "admin")  # the township enters 2027's Spring Festival
        assert promises.calendar_warning() is None
        assert check_calendar().level == "ok"
    # Fixing the calendar moves the due date as any holiday edit does.
    assert Case.get_by_id(case.request_id).deadline == deadlines.calendar().add_workdays(date(2026, 12, 31), 30)


# ---- the console: forms for the same rules, and the papers they print ----

from tests.hub.console_support import Desk, new_case, supplement  # noqa: E402 - the console half of this file starts here


@pytest.fixture
def desks(hub_app):
    hub_app.config.update(TOWNSHIP_GOVERNMENT="青山镇人民政府", REVIEW_BODY="青山县人民政府")
    return (Desk(hub_app, "wang", "王芳", windows=["W05", "W09"]), Desk(hub_app, "zhao", "赵主任", role="supervisor"))


def test_console_papers_name_the_government_the_review_body_and_say_complete_only_when_true(sim, desks) -> None:
    wang, _ = desks
    code = new_case(sim, DB01)
    resp = wang.act(code, "accept")
    html = wang.get(resp.headers["Location"]).get_data(as_text=True)
    html = html[html.index('<article class="paper"') :]  # the paper, not the console's header
    assert "事项受理通知单" in html
    assert "申请材料齐全、符合法定形式" in html
    assert "青山镇人民政府" in html
    assert "乡镇政务服务中心" not in html
    assert "（印章）" in html
    assert "受理后 30 个工作日" in html
    assert "王芳" in html
    code = new_case(sim, DB01)
    resp = wang.act(code, "refuse", reason="户籍不在本镇", legal_basis="《社会救助暂行办法》第十一条")
    html = wang.get(resp.headers["Location"]).get_data(as_text=True)
    assert "不予受理告知书" in html
    assert "六十日内向青山县人民政府申请行政复议" in html
    assert "六个月内" in html


def test_console_refuses_accepting_incomplete_and_second_request_without_override(sim, desks) -> None:
    wang, zhao = desks
    code = new_case(sim, DB01, missing=["M-HUKOU"])
    html = wang.get(f"/console/case/{code}").get_data(as_text=True)
    assert "尚未受理：补正期间不计时" in html
    assert "受理后 30 个工作日" in html
    assert 'value="accept"' not in html  # nothing to accept while materials are missing
    queue_html = wang.get("/console/").get_data(as_text=True)
    assert f'class="waiting" data-code="{code}"' in queue_html
    supplement(sim, code, ["M-HUKOU"])
    assert wang.act(code, "accept").status_code == 302
    before = snapshot()
    resp = wang.act(code, "ask_materials", missing=["M-ID"], override="我自己批准")
    assert resp.status_code == 403
    assert "须由效能监督人员批准" in resp.get_data(as_text=True)
    resp = wang.act(code, "ask_materials", missing=["M-ID"])
    assert resp.status_code == 409
    assert "一次告知" in resp.get_data(as_text=True)
    assert snapshot() == before
    html = zhao.get(f"/console/case/{code}").get_data(as_text=True)
    assert 'name="override"' in html
    resp = zhao.act(code, "ask_materials", missing=["M-ID"], override="身份证复印件模糊")
    assert resp.status_code == 302
    dash = zhao.get("/supervision/").get_data(as_text=True)
    assert re.search(r'id="fig-overrides">[^<]*<strong>1</strong>', dash)


def test_console_extension_request_and_supervisor_approval(sim, desks) -> None:
    wang, zhao = desks
    code = new_case(sim, DB01)
    wang.act(code, "accept")
    due = Case.get(Case.receipt_code == code).deadline
    resp = wang.post(f"/console/case/{code}/extension", {"days": "abc", "reason": "入户核查"})
    assert resp.status_code == 400
    assert "整数" in resp.get_data(as_text=True)
    assert wang.post(f"/console/case/{code}/extension", {"days": "10", "reason": "入户核查"}).status_code == 302
    ext = Extension.get()
    resp = wang.post(f"/console/case/{code}/extension/decide", {"ext_id": ext.id, "decision": "approve"})
    assert resp.status_code == 403
    assert Case.get(Case.receipt_code == code).deadline == due
    dash = zhao.get("/supervision/").get_data(as_text=True)
    assert re.search(r'id="fig-pending-extensions">[^<]*<strong>1</strong>', dash)
    assert (
        zhao.post(
            f"/console/case/{code}/extension/decide", {"ext_id": ext.id, "decision": "approve", "note": "同意"}
        ).status_code
        == 302
    )
    new_due = Case.get(Case.receipt_code == code).deadline
    assert new_due == deadlines.calendar().add_workdays(due, 10)
    html = zhao.get(f"/console/case/{code}").get_data(as_text=True)
    assert "已批准" in html
    assert str(new_due) in html
    assert "延期办理告知书" in html


def test_console_records_consultations_and_transfers(sim, desks) -> None:
    wang, _ = desks
    code = new_case(sim, DB01)
    resp = wang.post("/console/contacts", {"kind": "consult", "person": "李大爷", "topic": "低保标准", "answer": ""})
    assert resp.status_code == 400
    assert "答复内容" in resp.get_data(as_text=True)
    wang.post(
        "/console/contacts",
        {
            "kind": "transfer",
            "person": "李大爷",
            "topic": "医保报销",
            "to_body": "农村合作医疗窗口",
            "receipt_code": code,
        },
    )
    html = wang.get(f"/console/case/{code}").get_data(as_text=True)
    assert "医保报销" in html
    assert "农村合作医疗窗口" in html
    assert "王芳" in html
    assert "首问责任人" in html


def test_dashboard_on_time_chart_draws_no_bar_for_windows_with_nothing_completed(sim, desks) -> None:
    _, zhao = desks
    new_case(sim, DB01)
    html = zhao.get("/supervision/").get_data(as_text=True)
    chart = html[html.index("按时办结率</text>") if "按时办结率</text>" in html else html.index("按时办结率") :]
    assert "尚无办结" in chart
    assert "不画柱" in html


def test_a_held_request_withdrawn_at_the_village_reaches_the_hub_as_captured_then_withdrawn(sim, people) -> None:
    ev = captured(sim, DB01)
    ev[2]["submit"] = "held"
    ack = sim.send(sim.events(ev, ("request.withdrawn", ev[1], {"reason": "不办了"})))
    assert [r["status"] for r in ack["ack"]["results"]] in ([], ["ok", "ok"])
    case = Case.get_by_id(ev[1])
    assert case.state == "withdrawn"
    assert case.closed_at is not None
    assert deadlines.clock(case).state == "closed"


def test_queue_flags_a_case_whose_notice_is_past_five_working_days(sim, desks) -> None:
    wang, zhao = desks
    with hub_time(at("2026-11-02")):
        code = new_case(sim, DB01)
    with hub_time(at("2026-11-09")):  # the 5th working day: still in time
        assert "补正告知超 5 个工作日</strong>" not in wang.get("/console/").get_data(as_text=True)
    with hub_time(at("2026-11-10")):
        row = re.search(rf'data-code="{code}">.*?</tr>', wang.get("/console/").get_data(as_text=True), re.DOTALL)
        assert row
        assert "补正告知超 5 个工作日" in row.group(0)
        dash = zhao.get("/supervision/").get_data(as_text=True)
        assert re.search(r'id="fig-late-notices">[^<]*<strong>1</strong>', dash)
