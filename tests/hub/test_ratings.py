"""好差评: one rating per matter from the village or the status page; every 差评 rectified, called back or appealed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hub import deadlines, figures
from hub.enrolment import issue_code
from hub.models import AuditEntry, Case, Rating
from hub.staff import create_user
from shared import ratings
from shared.receipt_codes import format_code
from tests.hub.console_support import Desk, csrf_of, new_case
from tests.hub.pages import hub_time
from tests.nodesim import NodeSim


@pytest.fixture
def sim(hub_app):
    create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09", "W10"])
    create_user("zhou", "周明", "secret-pass", "staff", ["W01"])
    return NodeSim(hub_app.test_client(), issue_code("桃源村"))


def feedback(sim: NodeSim, code: str, **data: Any) -> dict[str, Any]:
    case = Case.get(Case.receipt_code == code)
    ack = sim.send(sim.events(("request.feedback", case.request_id, data)))["ack"]
    return ack["results"][0] if ack["results"] else {"status": "ok"}


def ratings_state() -> list[tuple[Any, ...]]:
    return [
        (r.request_id, r.level, r.comment, r.state, r.rectify_note, r.callback_at, r.appeal_by, r.appeal_decision)
        for r in Rating.select().order_by(Rating.id)
    ] + [(c.receipt_code, c.satisfaction) for c in Case.select().order_by(Case.request_id)]


def test_the_vocabulary_is_five_levels_and_old_answers_still_read() -> None:
    assert ratings.LEVELS == ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
    assert ratings.BAD == {"不满意", "非常不满意"}
    for old in ("满意", "基本满意", "不满意"):  # the old 满意情况反馈单
        assert ratings.level_of(old) == old
    assert ratings.is_bad("不满意")
    assert not ratings.is_bad("基本满意")
    assert ratings.level_of("很好") is None
    assert ratings.level_of(None) is None


def test_village_rating_keeps_the_comment_and_is_taken_once(hub_app, sim) -> None:
    code = new_case(sim, "FP-01")
    assert feedback(sim, code, satisfaction="非常满意", comment="办得快<b>好</b>", channel="paper")["status"] == "ok"
    r = Rating.get()
    assert (r.level, r.comment, r.channel, r.bad, r.state, r.staff) == (
        "非常满意",
        "办得快<b>好</b>",
        "paper",
        False,
        "",
        "wang",
    )
    assert Case.get(Case.receipt_code == code).satisfaction == "非常满意"
    before = ratings_state()
    again = feedback(sim, code, satisfaction="不满意", comment="")
    assert again["code"] == "already_rated"
    assert "一事一评" in again["message"]
    for bad in ({"satisfaction": "很好"}, {"satisfaction": "满意", "comment": "长" * 501}, {"comment": "x"}):
        other = new_case(sim, "FP-01")
        result = feedback(sim, other, **bad)
        assert result["status"] == "refused"
        assert result["code"] == "bad_feedback"
        assert Case.get(Case.receipt_code == other).satisfaction is None
    assert ratings_state()[:1] == before[:1]
    assert Rating.select().count() == 1


def test_old_three_level_answers_stay_readable(hub_app, sim) -> None:
    code = new_case(sim, "FP-01")
    # An answer stored before 好差评, as the old node sent it: never rewritten, still counted.
    Case.update(satisfaction="基本满意").where(Case.receipt_code == code).execute()
    rows = figures.load_rows()
    total = figures.summarise(rows, deadlines.calendar(), rows[0].received_on)
    assert total.feedback["基本满意"] == 1
    assert total.as_dict()["fairly_satisfied"] == 1
    assert total.satisfaction_rate == 1.0
    wang = Desk(hub_app, "wang", create=False)
    assert "☑ 基本满意" in wang.get(f"/console/case/{code}/feedback").get_data(as_text=True)
    html = hub_app.test_client().get("/status", query_string={"code": code, "tail": "8000"}).get_data(as_text=True)
    assert "您的评价：基本满意" in html
    assert 'action="/status/rate"' not in html
    assert feedback(sim, code, satisfaction="满意")["code"] == "already_rated"


def rate_online(
    client: Any, code: str, level: str, comment: str = "", tail: str = "8000", addr: str = "10.1.1.1"
) -> Any:
    page = client.get("/status", query_string={"code": code, "tail": tail}, environ_base={"REMOTE_ADDR": addr})
    html = page.get_data(as_text=True)
    token = csrf_of(html) if "csrf_token" in html else csrf_of(client.get("/login").get_data(as_text=True))
    return client.post(
        "/status/rate",
        data={"csrf_token": token, "code": format_code(code), "tail": tail, "level": level, "comment": comment},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_bad_rating_online_is_rectified_called_back_and_shown_to_the_supervisor(hub_app, sim) -> None:
    hub_app.config["STATUS_LOOKUP_LIMIT"] = 100
    code = new_case(sim, "DB-03", name="欧阳娜娜")
    wang = Desk(hub_app, "wang", create=False)
    wang.act(code, "accept")
    wang.act(code, "approve")
    client = hub_app.test_client()
    html = client.get("/status", query_string={"code": code, "tail": "8000"}).get_data(as_text=True)
    assert 'action="/status/rate"' in html
    assert "非常不满意" in html
    assert "<script" not in html
    before = ratings_state()
    wrong = rate_online(client, code, "非常不满意", tail="1234")
    assert wrong.status_code == 400
    assert "评价未记录" in wrong.get_data(as_text=True)
    for bad_level in ("", "差", "<script>"):
        resp = rate_online(client, code, bad_level)
        assert resp.status_code == 400
        assert "请选择评价" in resp.get_data(as_text=True)
    resp = rate_online(client, code, "满意", comment="长" * 501)
    assert resp.status_code == 400
    assert "500 字" in resp.get_data(as_text=True)
    assert ratings_state() == before
    resp = rate_online(client, code, "非常不满意", comment="<script>alert(1)</script>窗口态度差")
    assert resp.status_code == 200
    assert "15 个工作日内核实整改" in resp.get_data(as_text=True)
    r = Rating.get()
    assert r.bad
    assert r.state == "open"
    assert r.channel == "online"
    assert r.comment.startswith("<script>")
    assert r.due == deadlines.calendar().add_workdays(r.rated_on, 15)
    again = rate_online(client, code, "非常满意")
    assert again.status_code == 400
    assert "一事一评" in again.get_data(as_text=True)
    assert Rating.get().level == "非常不满意"

    boss = Desk(hub_app, "boss", "陈督查", role="supervisor")
    zhou = Desk(hub_app, "zhou", create=False)
    page = boss.get("/ratings").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;窗口态度差" in page
    assert "<script>alert" not in page
    assert 'id="fig-bad-open">1<' in page
    assert 'id="fig-callback-rate">—<' in page
    # Someone not responsible for the window: refused, nothing changed.
    before = ratings_state()
    resp = zhou.post(f"/ratings/{code}/rectify", {"note": "已整改"}, page="/ratings")
    assert resp.status_code == 403
    assert "不负责该事项所在窗口" in resp.get_data(as_text=True)
    resp = wang.post(f"/ratings/{code}/callback", {"note": "回访", "result": "满意"}, page="/ratings")
    assert resp.status_code == 400
    assert "效能监督人员" in resp.get_data(as_text=True)
    resp = wang.post(f"/ratings/{code}/rectify", {"note": "  "}, page="/ratings")
    assert resp.status_code == 400
    assert "请填写核实及整改情况" in resp.get_data(as_text=True)
    assert ratings_state() == before
    assert (
        wang.post(f"/ratings/{code}/rectify", {"note": "已核实，窗口人员已道歉并加强培训"}, page="/ratings").status_code
        == 302
    )
    resp = boss.post(f"/ratings/{code}/callback", {"note": "电话回访，群众认可", "result": "满意"}, page="/ratings")
    assert resp.status_code == 302
    r = Rating.get()
    assert r.state == "rectified"
    assert r.callback_result == "满意"
    assert r.rectified_by == "wang"
    page = boss.get("/ratings").get_data(as_text=True)
    assert 'id="fig-bad-rectified">1<' in page
    assert 'id="fig-callback-rate">100.0%<' in page
    assert 'id="fig-bad-open">0<' in page
    assert "桃源村" in page
    assert "王芳" in page
    assert "民政" in page
    assert {e.action for e in AuditEntry.select()} >= {"rating.bad", "rating.rectified", "rating.callback"}


def test_appeal_is_decided_by_a_supervisor_other_than_the_appellant(hub_app, sim) -> None:
    code = new_case(sim, "FP-01")
    assert feedback(sim, code, satisfaction="不满意", comment="")["status"] == "ok"
    wang = Desk(hub_app, "wang", create=False)
    boss = Desk(hub_app, "boss", "陈督查", role="supervisor")
    resp = wang.post(f"/ratings/{code}/decide", {"decision": "upheld", "note": "x"}, page="/ratings")
    assert resp.status_code == 400
    assert "效能监督人员" in resp.get_data(as_text=True)
    assert wang.post(f"/ratings/{code}/appeal", {"note": "群众误选，已电话确认"}, page="/ratings").status_code == 302
    assert Rating.get().state == "appealed"
    resp = boss.post(f"/ratings/{code}/decide", {"decision": "maybe", "note": "x"}, page="/ratings")
    assert resp.status_code == 400
    assert Rating.get().state == "appealed"
    assert (
        boss.post(
            f"/ratings/{code}/decide", {"decision": "upheld", "note": "录音核实属误评"}, page="/ratings"
        ).status_code
        == 302
    )
    r = Rating.get()
    assert r.state == "void"
    assert r.appeal_decided_by == "boss"
    page = boss.get("/ratings").get_data(as_text=True)
    assert 'id="fig-bad">0<' in page
    assert "申诉成立" in page
    # One appeal per 差评: the review is final.
    resp = wang.post(f"/ratings/{code}/appeal", {"note": "再次申诉"}, page="/ratings")
    assert resp.status_code == 400


def test_overdue_rectification_turns_red_and_the_period_is_configurable(hub_app, sim) -> None:
    hub_app.config["RATING_RECTIFY_DAYS"] = 3
    with hub_time(datetime(2026, 3, 2, 2, 0)):  # a Monday, 10:00 in China
        code = new_case(sim, "FP-01")
        assert feedback(sim, code, satisfaction="非常不满意", comment="")["status"] == "ok"
    r = Rating.get()
    assert r.due == datetime(2026, 3, 5).date()
    boss = Desk(hub_app, "boss", "陈督查", role="supervisor")
    with hub_time(datetime(2026, 3, 5, 2, 0)):
        page = boss.get("/ratings").get_data(as_text=True)
        assert 'class="yellow"' in page
        assert 'id="fig-bad-overdue">0<' in page
    with hub_time(datetime(2026, 3, 6, 2, 0) + timedelta(days=3)):
        page = boss.get("/ratings").get_data(as_text=True)
        assert 'class="red"' in page
        assert 'id="fig-bad-overdue">1<' in page


def test_online_rating_counts_against_the_lookup_limit(hub_app, sim) -> None:
    hub_app.config.update(STATUS_LOOKUP_LIMIT=3, STATUS_LOOKUP_PERIOD_S=600)
    code = new_case(sim, "FP-01")
    client = hub_app.test_client()
    assert rate_online(client, code, "满意", tail="0000").status_code == 400  # a GET and a POST: two of three
    resp = rate_online(client, code, "满意")
    assert resp.status_code == 429
    assert "过于频繁" in resp.get_data(as_text=True)
    assert Rating.select().count() == 0
    assert Case.get(Case.receipt_code == code).satisfaction is None


def test_online_rating_waits_for_the_result(hub_app, sim) -> None:
    code = new_case(sim, "DB-01")
    client = hub_app.test_client()
    html = client.get("/status", query_string={"code": code, "tail": "8000"}).get_data(as_text=True)
    assert 'action="/status/rate"' not in html
    resp = rate_online(client, code, "非常满意")
    assert resp.status_code == 400
    assert "办结后才能在网上评价" in resp.get_data(as_text=True)
    assert Rating.select().count() == 0
    # At the village point the clerk may take it at any time after sending (一次一评 at the counter).
    assert feedback(sim, code, satisfaction="满意")["status"] == "ok"
