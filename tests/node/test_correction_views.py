"""The clerk corrects a captured field from the request page (before the hub's 受理), with a reason."""

from __future__ import annotations

import pytest

from node.models import Event, Request
from tests.node.hubupdates import hub_decides
from tests.node.test_capture_views import capture


def _snapshot(req: Request) -> tuple:
    row = Request.get_by_id(req.request_id)
    return row.data, row.applicant_name, row.phone, Event.select().count()


def test_a_correction_is_an_event_of_its_own_and_shows_in_the_history(clerk) -> None:
    req = capture(clerk, **{"applicant.name": "王建囯"})
    page = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert 'id="correct"' in page
    assert "申请人姓名" in page
    resp = clerk.post(
        f"/requests/{req.receipt_code}/correct",
        {"field": "applicant.name", "value": "王建国", "reason": "“国”字录成了异体字"},
        page=f"/requests/{req.receipt_code}",
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/requests/{req.receipt_code}")
    row = Request.get_by_id(req.request_id)
    assert (row.applicant_name, row.data["applicant"]["name"], row.receipt_code) == (
        "王建国",
        "王建国",
        req.receipt_code,
    )
    ev = Event.get(Event.type == "request.corrected")
    assert (ev.clerk, ev.data) == (
        "李文书",
        {"field": "applicant.name", "value": "王建国", "reason": "“国”字录成了异体字", "old": "王建囯"},
    )
    page = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    timeline = page[page.index("办理经过") :]
    assert "更正登记内容" in timeline
    assert "申请人姓名：“王建囯”改为“王建国”；原因：“国”字录成了异体字" in timeline
    assert timeline.index("收件登记并提交") < timeline.index("更正登记内容")


@pytest.mark.parametrize(
    "form,words",
    [
        ({"field": "applicant.phone", "value": "12345", "reason": "换号"}, "手机号码应为11位数字"),
        ({"field": "applicant.name", "value": "王建民", "reason": ""}, "请填写更正原因"),
        ({"field": "receipt_code", "value": "22AAAAAAA", "reason": "改号"}, "请选择要更正的项目"),
    ],
)
def test_bad_corrections_say_why_and_change_nothing(clerk, form, words) -> None:
    req = capture(clerk)
    before = _snapshot(req)
    resp = clerk.post(f"/requests/{req.receipt_code}/correct", form, page=f"/requests/{req.receipt_code}")
    assert resp.status_code == 400
    assert words in resp.get_data(as_text=True)
    assert "未做任何更改" in resp.get_data(as_text=True)
    assert _snapshot(req) == before


def test_after_the_hubs_acceptance_the_clerk_is_told_to_ask_the_window(clerk) -> None:
    req = hub_decides(capture(clerk), "accept", "accepted")
    page = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert 'id="correct"' not in page
    assert "中心已受理此件，代办员不能再更正" in page
    before = _snapshot(req)
    resp = clerk.post(
        f"/requests/{req.receipt_code}/correct",
        {"field": "applicant.name", "value": "王建民", "reason": "录错"},
        page=f"/requests/{req.receipt_code}",
    )
    assert resp.status_code == 409
    assert "请联系中心国土与城建窗口工作人员更正" in resp.get_data(as_text=True)
    assert _snapshot(req) == before


def test_a_closed_case_cannot_be_corrected(clerk) -> None:
    req = hub_decides(capture(clerk), "refuse", "refused", reason="不符合条件", legal_basis="土地管理法")
    before = _snapshot(req)
    resp = clerk.post(
        f"/requests/{req.receipt_code}/correct",
        {"field": "applicant.name", "value": "王建民", "reason": "录错"},
        page=f"/requests/{req.receipt_code}",
    )
    assert resp.status_code == 409
    assert "办理已终结，不能更正" in resp.get_data(as_text=True)
    assert _snapshot(req) == before
