"""The window console: queue, case detail, each action with its paper, and every refusal."""

from __future__ import annotations

from datetime import timedelta

from typing import Any

import pytest

from hub.clock import today
from hub.models import Case, HubEvent
from tests.hub.console_support import Desk, new_case, snapshot, supplement


@pytest.fixture
def wang(hub_app) -> Desk:
    """Window staff covering 民政 and 国土与城建."""
    return Desk(hub_app, "wang", "王芳", windows=["W05", "W09", "W10"])


def case(code: str) -> Case:
    return Case.get(Case.receipt_code == code)


def test_queue_shows_covered_windows_sorted_by_deadline_with_colours(hub_app, sim, wang) -> None:
    late = new_case(sim, "DB-01", name="赵六")
    soon = new_case(sim, "JF-01", name="钱七")
    fine = new_case(sim, "DB-03", name="孙八")
    Case.update(deadline=today() - timedelta(days=3)).where(Case.receipt_code == late).execute()
    Case.update(deadline=today()).where(Case.receipt_code == soon).execute()
    Case.update(deadline=today() + timedelta(days=60)).where(Case.receipt_code == fine).execute()
    other = Desk(hub_app, "li", "李强", windows=["W14"])
    html = wang.get("/console/").get_data(as_text=True)
    assert html.index(late) < html.index(soon) < html.index(fine)
    assert f'class="red" data-code="{late}"' in html
    assert f'class="yellow" data-code="{soon}"' in html
    assert f'class="green" data-code="{fine}"' in html
    assert "赵六" in html
    assert "桃源村" in html
    assert "王芳" in html
    assert late not in other.get("/console/").get_data(as_text=True)
    only_w09 = wang.get("/console/?window=W09").get_data(as_text=True)
    assert soon in only_w09
    assert late not in only_w09


def test_detail_shows_applicant_materials_village_clerk_history(sim, wang) -> None:
    code = new_case(sim, "DB-01")
    html = wang.get(f"/console/case/{code}").get_data(as_text=True)
    assert "张三" in html
    assert "桃源村" in html
    assert "李文书" in html
    assert "申请书" in html
    assert "已收" in html
    assert "接收并分派" in html
    assert "收件" in html
    assert "受理（出具事项受理通知单）" in html


def test_accept_prints_acceptance_notice_with_deadline(sim, wang) -> None:
    code = new_case(sim, "JF-01")
    resp = wang.act(code, "accept")
    assert resp.status_code == 302
    paper = wang.get(resp.headers["Location"])
    html = paper.get_data(as_text=True)
    c = case(code)
    assert c.state == "accepted"
    assert "事项受理通知单" in html
    assert f"{c.deadline.year}年{c.deadline.month}月{c.deadline.day}日" in html
    assert "console.css" in html
    assert "<script" not in html
    last = HubEvent.select().order_by(HubEvent.id.desc()).get()
    assert last.body["action"] == "accept"
    assert last.actor == "wang"
    assert last.body["state"] == "accepted"


def test_ask_materials_pauses_clock_until_supplement_then_accept_and_complete(sim, wang) -> None:
    # DB-03 临时救助: approved without 公示 (DB-01's 公示 is tests/hub/test_county_and_publicity.py).
    code = new_case(sim, "DB-03")
    resp = wang.act(code, "ask_materials", missing=["M-HUKOU", "M-ID"], note="请补充近三个月银行流水")
    assert resp.status_code == 302
    html = wang.get(resp.headers["Location"]).get_data(as_text=True)
    assert "一次性告知单" in html
    assert "户口簿" in html
    assert "身份证" in html
    assert "近三个月银行流水" in html
    c = case(code)
    # Asked before 受理: no clock at all until the materials are complete.
    assert c.state == "needs_materials"
    assert c.deadline is None
    assert c.paused_since is None
    assert sorted(c.materials_missing) == ["M-HUKOU", "M-ID"]
    queue = wang.get("/console/").get_data(as_text=True)
    assert f'class="waiting" data-code="{code}"' in queue
    supplement(sim, code, ["M-HUKOU", "M-ID"])
    c = case(code)
    assert c.state == "received"
    assert c.paused_since is None
    assert c.materials_missing == []
    assert c.clock_start == today()
    assert c.deadline is not None
    assert "补正材料到达" in wang.get(f"/console/case/{code}").get_data(as_text=True)
    assert "补正已到" in wang.get("/console/").get_data(as_text=True)
    assert wang.act(code, "accept").status_code == 302
    resp = wang.act(code, "approve", note="符合条件，准予临时救助")
    assert resp.status_code == 302
    html = wang.get(resp.headers["Location"]).get_data(as_text=True)
    assert "办结通知" in html
    assert "准予" in html
    assert case(code).state == "approved"
    assert case(code).closed_at is not None


def test_refuse_and_deny_print_reason_and_basis(sim, wang) -> None:
    code = new_case(sim, "JF-01")
    resp = wang.act(code, "refuse", reason="申请人已有宅基地", legal_basis="《中华人民共和国土地管理法》第六十二条")
    html = wang.get(resp.headers["Location"]).get_data(as_text=True)
    assert "不予受理告知书" in html
    assert "申请人已有宅基地" in html
    assert "第六十二条" in html
    assert case(code).state == "refused"
    code = new_case(sim, "DB-03")
    wang.act(code, "accept")
    resp = wang.act(code, "deny", reason="家庭收入超过标准", legal_basis="《社会救助暂行办法》")
    html = wang.get(resp.headers["Location"]).get_data(as_text=True)
    assert "办结通知" in html
    assert "不予批准" in html
    assert "家庭收入超过标准" in html


def test_immediate_item_accepted_and_completed_in_one_step_and_feedback_form(sim, wang) -> None:
    code = new_case(sim, "FP-01")
    assert "即办件：当场受理并办结" in wang.get(f"/console/case/{code}").get_data(as_text=True)
    resp = wang.act(code, "immediate")
    assert resp.status_code == 302
    assert case(code).state == "approved"
    assert "办结通知" in wang.get(resp.headers["Location"]).get_data(as_text=True)
    processed = new_case(sim, "JF-01")
    before = snapshot()
    resp = wang.act(processed, "immediate")
    assert resp.status_code == 409
    assert "只有即办件" in resp.get_data(as_text=True)
    assert snapshot() == before
    html = wang.get(f"/console/case/{code}/feedback").get_data(as_text=True)
    assert "事项办理群众满意情况反馈单" in html
    assert "□ 满意" in html
    assert "王芳" in html


def test_closed_and_refused_cases_cannot_change(sim, wang) -> None:
    code = new_case(sim, "JF-01")
    wang.act(code, "refuse", reason="不符合条件", legal_basis="《中华人民共和国土地管理法》第六十二条")
    before = snapshot()
    resp = wang.act(code, "approve")
    assert resp.status_code == 409
    assert "已办理终结，不能再变更" in resp.get_data(as_text=True)
    assert snapshot() == before
    code = new_case(sim, "FP-01")
    wang.act(code, "immediate")
    before = snapshot()
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("ask_materials", {"missing": ["M-ID"]}),
        ("accept", {}),
        ("deny", {"reason": "x", "legal_basis": "y"}),
    ]
    for action, fields in attempts:
        resp = wang.act(code, action, **fields)
        assert resp.status_code == 409
        assert "不能再变更" in resp.get_data(as_text=True)
    assert snapshot() == before


def test_incomplete_forms_refused_and_change_nothing(sim, wang) -> None:
    code = new_case(sim, "DB-01")
    before = snapshot()
    for fields in (
        {"reason": "材料不符"},
        {"reason": "材料不符", "legal_basis": "   "},
        {"legal_basis": "《社会救助暂行办法》"},
    ):
        resp = wang.act(code, "refuse", **fields)
        assert resp.status_code == 400
        page = resp.get_data(as_text=True)
        assert "须写明理由和法律依据" in page
        # The refusal form comes back with what was typed, in the refuse form only.
        if "reason" in fields:
            assert page.count(f'<textarea name="reason" rows="2">{fields["reason"]}</textarea>') == 1
    assert "须列明所缺材料" in wang.act(code, "ask_materials").get_data(as_text=True)
    assert "没有这些材料" in wang.act(code, "ask_materials", missing=["M-NOPE"]).get_data(as_text=True)
    assert "未知操作" in wang.act(code, "delete").get_data(as_text=True)
    assert snapshot() == before


def test_staff_not_on_the_window_cannot_act_or_view(hub_app, sim, wang) -> None:
    code = new_case(sim, "JF-01")
    forester = Desk(hub_app, "lin", "林业员", windows=["W14"])
    before = snapshot()
    # Another window's case answers exactly like a code that does not exist (tests/hub/test_case_visibility.py).
    resp = forester.act(code, "accept")
    assert resp.status_code == 404
    assert "没有这个回执码" in resp.get_data(as_text=True)
    view = forester.get(f"/console/case/{code}")
    assert view.status_code == 404
    assert "没有这个回执码" in view.get_data(as_text=True)
    assert snapshot() == before


def test_csrf_failure_changes_nothing(sim, wang) -> None:
    code = new_case(sim, "JF-01")
    before = snapshot()
    resp = wang.client.post(f"/console/case/{code}/act", data={"action": "accept"})
    assert resp.status_code == 400
    assert "安全校验失败" in resp.get_data(as_text=True)
    resp = wang.client.post(f"/console/case/{code}/act", data={"action": "accept", "csrf_token": "forged"})
    assert resp.status_code == 400
    assert snapshot() == before


def test_login_needed_and_unknown_case_is_a_chinese_404(hub_client, wang) -> None:
    for path in ("/console/", "/console/register", "/console/staff"):
        resp = hub_client.get(path)
        assert resp.status_code == 302
        assert "/login" in resp.headers["Location"]
    assert hub_client.get("/").headers["Location"].endswith("/login")
    resp = wang.get("/console/case/ZZZZZZZZZ")
    assert resp.status_code == 404
    assert "没有这个回执码" in resp.get_data(as_text=True)


def test_duty_page_staff_mark_themselves_only(hub_app, wang) -> None:
    Desk(hub_app, "li", "李强", windows=["W05"])
    assert wang.post("/console/staff", {"username": "wang", "on_duty": "0"}).status_code == 302
    html = wang.get("/console/staff").get_data(as_text=True)
    assert "离岗" in html
    before = snapshot()
    resp = wang.post("/console/staff", {"username": "li", "on_duty": "0"})
    assert resp.status_code == 403
    assert "只能修改自己" in resp.get_data(as_text=True)
    assert snapshot() == before
