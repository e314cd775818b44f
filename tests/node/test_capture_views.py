"""Capture through the clerk's form: success, held, one-time notice, receipt, and every bad input."""

from __future__ import annotations

import re

from node import meta
from node.models import Event, Request
from shared.receipt_codes import format_code
from tests.node.conftest import capture_form


def counts() -> tuple[int, int]:
    return Request.select().count(), Event.select().count()


def capture(clerk, item: str = "JF-01", **kw):
    resp = clerk.post(f"/capture/{item}", capture_form(item, **kw), page=f"/capture/{item}")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    code = re.search(r"/requests/([A-Z0-9]+)", resp.headers["Location"]).group(1)  # type: ignore[union-attr]
    return Request.get(Request.receipt_code == code)


def test_form_is_generated_from_the_catalogue(clerk) -> None:
    html = clerk.client.get("/capture/JF-01").get_data(as_text=True)
    for label in ("宅基地位置（组别及四至）", "申请宅基地面积（平方米）", "四邻意见", "建房设计图", "身份证号码"):
        assert label in html
    assert 'name="applicant.name"' in html
    assert "autofocus" in html
    # The default submit button (first in the form) sends; Enter in any field triggers it.
    assert html.index('value="send"') < html.index('value="held"')


def test_capture_with_one_material_missing(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    assert req.state == "queued"
    assert req.materials_missing == ["M-NEIGHBOURS"]
    assert req.data["submit"] == "awaiting_materials"
    assert req.clerk == "李文书"
    ev = Event.get(Event.request_id == req.request_id)
    assert ev.type == "request.captured"
    assert ev.clerk == "李文书"
    notice = clerk.client.get(f"/requests/{req.receipt_code}/notice").get_data(as_text=True)
    missing = re.search(r'id="missing-list">(.*?)</ol>', notice, re.S).group(1)  # type: ignore[union-attr]
    assert "四邻意见" in missing
    assert "申请书" not in missing
    assert "村民小组会议讨论并公示" in notice
    assert "20 个工作日" in notice


def test_receipt_after_commit_with_qr_to_hub_status(clerk, node_app) -> None:
    with node_app.app_context():
        meta.put("hub_url", "http://hub.example:8700")
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    html = clerk.client.get(f"/requests/{req.receipt_code}/receipt").get_data(as_text=True)
    assert format_code(req.receipt_code) in html
    assert "农村宅基地和建房（规划许可）申请" in html
    received = re.search(r'id="received">(.*?)</td>', html).group(1)  # type: ignore[union-attr]
    assert "申请书" in received
    assert "四邻意见" not in received
    assert "李文书" in html
    assert f"http://hub.example:8700/status?code={req.receipt_code}" in html
    assert "<svg" in html
    assert "print-a5.css" in html
    assert "print-a4.css" in clerk.client.get(f"/requests/{req.receipt_code}/receipt?paper=a4").get_data(as_text=True)
    assert clerk.client.get("/requests/22AAAAAAA/receipt").status_code == 404


def test_complete_materials_are_submitted(clerk) -> None:
    req = capture(clerk)
    assert req.data["submit"] == "submitted"
    assert req.materials_missing == []


def test_held_request_is_released_later(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",), submit="held")
    assert req.state == "held"
    assert Event.select().count() == 0
    clerk.post(f"/requests/{req.receipt_code}/release", {}, page=f"/requests/{req.receipt_code}")
    assert Request.get_by_id(req.request_id).state == "queued"
    assert Event.get().type == "request.captured"


def test_bad_id_number_shows_error_next_to_field_and_saves_nothing(clerk) -> None:
    form = capture_form(**{"applicant.id_number": "430102199001011235", "applicant.phone": "12345"})
    resp = clerk.post("/capture/JF-01", form, page="/capture/JF-01")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert re.search(r'id="applicant.id_number-error">身份证号码校验位不正确', html)
    assert re.search(r'id="applicant.phone-error">手机号码应为11位', html)
    assert 'value="王建国"' in html  # what was typed stays in the form
    assert counts() == (0, 0)


def test_missing_required_field_errors_in_chinese(clerk) -> None:
    form = capture_form(**{"fields.site_area": "-3", "applicant.name": ""})
    resp = clerk.post("/capture/JF-01", form, page="/capture/JF-01")
    html = resp.get_data(as_text=True)
    assert "请填写申请人姓名" in html
    assert "必须是不小于0的数字" in html
    assert counts() == (0, 0)


def test_unknown_item_is_refused_and_saves_nothing(clerk) -> None:
    assert clerk.client.get("/capture/XX-99").status_code == 404
    resp = clerk.client.get("/capture?item=xx-99")
    assert resp.status_code == 404
    assert "办理事项 XX-99 不存在" in resp.get_data(as_text=True)
    resp = clerk.post("/capture/XX-99", capture_form(), page="/capture")
    assert resp.status_code == 422
    assert "办理事项 XX-99 不存在" in resp.get_data(as_text=True)
    assert counts() == (0, 0)


def test_item_code_box_goes_to_the_form(clerk) -> None:
    resp = clerk.client.get("/capture?item=jf-01")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/capture/JF-01")


def test_capture_asks_for_a_sync_right_away(clerk) -> None:
    from node import scheduler

    scheduler._state["next_try"] = 1e12
    capture(clerk)
    assert scheduler.next_try_in() == 0
