"""The local list and search, the detail page, and supplements, feedback and withdrawal."""

from __future__ import annotations

from node.models import Event, Request
from tests.node.hubupdates import hub_decides
from tests.node.test_capture_views import capture


def codes(html: str, reqs: list[Request]) -> set[str]:
    return {r.receipt_code for r in reqs if f'/requests/{r.receipt_code}"' in html}


def test_search_by_code_name_id_tail_item_and_state(clerk) -> None:
    a = capture(clerk, **{"applicant.name": "王建国"})
    b = capture(clerk, "DB-01", **{"applicant.name": "刘桂英"})
    hub_decides(b, "accept", "accepted", deadline="2026-12-24")
    both = [a, b]
    get = lambda q: clerk.client.get("/?" + q).get_data(as_text=True)  # noqa: E731 - a one-line page fetcher for this test
    assert codes(get(""), both) == {a.receipt_code, b.receipt_code}
    assert codes(get(f"q={a.receipt_code[:3]}-{a.receipt_code[3:6]}-{a.receipt_code[6:]}"), both) == {a.receipt_code}
    assert codes(get("q=刘桂"), both) == {b.receipt_code}
    assert codes(get(f"q={b.id_tail}"), both) >= {b.receipt_code}
    assert codes(get("item=JF-01"), both) == {a.receipt_code}
    assert codes(get("state=accepted"), both) == {b.receipt_code}


def test_search_prefers_name_prefix_then_looks_inside_names(clerk) -> None:
    a = capture(clerk, **{"applicant.name": "王建国"})
    b = capture(clerk, **{"applicant.name": "李建国"})
    c = capture(clerk, **{"applicant.name": "王芳"})
    every = [a, b, c]
    get = lambda q: clerk.client.get("/?" + q).get_data(as_text=True)  # noqa: E731 - a one-line page fetcher for this test
    assert codes(get("q=王"), every) == {a.receipt_code, c.receipt_code}  # surname: the index range
    assert codes(get("q=建国"), every) == {a.receipt_code, b.receipt_code}  # no prefix hit: inside names
    assert codes(get("q=王&item=DB-01"), every) == set()  # filters still apply


def test_detail_shows_timeline_and_hub_status_as_of_last_sync(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    req = hub_decides(req, "accept", "accepted", deadline="2026-12-24")
    html = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert "已受理" in html
    assert "2026-12-24" in html
    assert "截至" in html
    assert "收件登记并提交" in html
    assert "李文书" in html
    assert "受理" in html


def test_supplement_answers_the_hubs_request(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    req = hub_decides(req, "ask_materials", "needs_materials", missing=["M-NEIGHBOURS"], missing_names=["四邻意见"])
    page = f"/requests/{req.receipt_code}"
    assert "四邻意见" in clerk.client.get(page).get_data(as_text=True)
    clerk.post(f"{page}/supplement", {"materials": ["M-NEIGHBOURS"]}, page=page)
    ev = Event.select().where(Event.type == "request.supplemented").get()
    assert ev.data == {"materials": ["M-NEIGHBOURS"], "answers_cseq": 1}
    assert ev.clerk == "李文书"
    req = Request.get_by_id(req.request_id)
    assert req.materials_missing == []
    assert "M-NEIGHBOURS" in req.materials_brought


def test_empty_supplement_is_refused(clerk) -> None:
    req = capture(clerk, missing=("M-NEIGHBOURS",))
    page = f"/requests/{req.receipt_code}"
    resp = clerk.post(f"{page}/supplement", {"materials": ["M-NOT-A-MATERIAL"]}, page=page)
    assert "请勾选补交的材料" in clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert Event.select().where(Event.type == "request.supplemented").count() == 0


def test_feedback_and_bad_feedback(clerk) -> None:
    req = capture(clerk)
    page = f"/requests/{req.receipt_code}"
    clerk.post(f"{page}/feedback", {"satisfaction": "很好"}, page=page)
    assert Event.select().where(Event.type == "request.feedback").count() == 0
    clerk.post(f"{page}/feedback", {"satisfaction": "基本满意", "comment": "等得有点久"}, page=page)
    ev = Event.get(Event.type == "request.feedback")
    assert ev.data == {"satisfaction": "基本满意", "comment": "等得有点久"}


def test_withdraw_needs_a_reason(clerk) -> None:
    req = capture(clerk)
    page = f"/requests/{req.receipt_code}"
    clerk.post(f"{page}/withdraw", {"reason": " "}, page=page)
    assert Event.select().where(Event.type == "request.withdrawn").count() == 0
    clerk.post(f"{page}/withdraw", {"reason": "村民决定暂不建房"}, page=page)
    assert Event.get(Event.type == "request.withdrawn").data == {"reason": "村民决定暂不建房"}


def test_held_request_withdrawn_as_events_in_the_log(clerk) -> None:
    req = capture(clerk, submit="held")
    assert Event.select().count() == 0
    page = f"/requests/{req.receipt_code}"
    clerk.post(f"{page}/withdraw", {"reason": "不办了"}, page=page)
    assert Request.get_by_id(req.request_id).state == "withdrawn"
    # The append-only log records the request and its withdrawal; nothing changes state silently.
    events = [(e.type, e.request_id) for e in Event.select().order_by(Event.id)]
    assert events == [("request.captured", req.request_id), ("request.withdrawn", req.request_id)]
    assert Event.get(Event.type == "request.withdrawn").data == {"reason": "不办了"}
