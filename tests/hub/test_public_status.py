"""The villager's status page: masked answer, same reply for every miss, rate limit per address."""

from __future__ import annotations

import pytest

import hub.public_status as public_status
from hub.enrolment import issue_code
from hub.models import Case
from hub.staff import create_user
from shared.receipt_codes import format_code, new_code
from tests.hub.console_support import Desk, new_case, snapshot, supplement
from tests.nodesim import NodeSim


@pytest.fixture
def sim(hub_app):
    create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09", "W10"])
    return NodeSim(hub_app.test_client(), issue_code("桃源村"))


def look(client, code: str, tail: str = "8000", addr: str = "10.0.0.1"):
    return client.get("/status", query_string={"code": code, "tail": tail}, environ_base={"REMOTE_ADDR": addr})


def test_form_is_small_and_scriptless(hub_client) -> None:
    resp = hub_client.get("/status?code=22ABCDEFG")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "手机号后四位" in html
    assert 'value="22ABCDEFG"' in html
    assert "<script" not in html.lower()
    assert len(resp.data) < 5 * 1024
    assert (
        "script-src" not in resp.headers["Content-Security-Policy"]
        or "unsafe" not in resp.headers["Content-Security-Policy"]
    )
    assert hub_client.post("/status").status_code == 405
    for tail in ("12", "abcd", "１２３４", ""):
        resp = look(hub_client, "22ABCDEFG", tail=tail)
        assert resp.status_code == 400
        assert "后四位数字" in resp.get_data(as_text=True)


def test_match_shows_masked_name_item_window_state_deadline_missing(hub_app, sim) -> None:
    code = new_case(sim, "DB-01", name="欧阳娜娜")
    c = Case.get(Case.receipt_code == code)
    resp = look(hub_app.test_client(), format_code(code).lower())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert len(resp.data) < 5 * 1024
    assert "<script" not in html
    assert "欧***" in html
    assert "农村最低生活保障申请" in html
    assert "民政" in html
    assert "已接收" in html
    assert f"{c.deadline.year}年{c.deadline.month}月{c.deadline.day}日" in html
    for secret in ("欧阳", c.id_number, c.phone, "桃源村三组", "王芳", "李文书"):
        assert secret not in html
    assert resp.headers["Cache-Control"] == "no-store"


def test_each_state_in_turn(hub_app, sim) -> None:
    code = new_case(sim, "DB-03")
    wang = Desk(hub_app, "wang", create=False)
    client = hub_app.test_client()

    def shown() -> str:
        return look(client, code, addr="10.9.9.9").get_data(as_text=True)

    assert "已接收" in shown()
    wang.act(code, "ask_materials", missing=["M-HUKOU"])
    html = shown()
    assert "待补正" in html
    assert "户口簿" in html
    assert "暂停计时" in html
    supplement(sim, code, ["M-HUKOU"])
    wang.act(code, "accept")
    assert "已受理" in shown()
    wang.act(code, "approve")
    html = shown()
    assert "办结（准予）" in html
    assert "办结期限" not in html


def test_unknown_code_and_wrong_tail_get_the_same_answer_by_the_same_path(hub_app, sim, monkeypatch) -> None:
    code = new_case(sim, "JF-01")
    calls: list[tuple[bytes, bytes]] = []
    real = public_status.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(public_status.hmac, "compare_digest", spy)
    client = hub_app.test_client()
    wrong_tail = look(client, code, tail="1234")
    unknown = look(client, new_code(sim.prefix), tail="8000")
    malformed = look(client, "NOT-A-CODE", tail="8000")
    assert wrong_tail.status_code == unknown.status_code == malformed.status_code == 200
    assert wrong_tail.data == unknown.data == malformed.data
    assert public_status.NOT_FOUND in wrong_tail.get_data(as_text=True)
    # One constant-time comparison each, always of four bytes against four bytes.
    assert len(calls) == 3
    assert all(len(a) == len(b) == 4 for a, b in calls)


def test_enumeration_hits_the_rate_limit_per_address(hub_app, sim) -> None:
    hub_app.config.update(STATUS_LOOKUP_LIMIT=5, STATUS_LOOKUP_PERIOD_S=600)
    code = new_case(sim, "JF-01")
    client = hub_app.test_client()
    before = snapshot()
    for _ in range(5):
        assert look(client, new_code(sim.prefix)).status_code == 200
    resp = look(client, code)  # even the right answer is withheld once the allowance is spent
    assert resp.status_code == 429
    assert "查询过于频繁" in resp.get_data(as_text=True)
    assert "张*" not in resp.get_data(as_text=True)
    # Another address is unaffected.
    assert "张*" in look(client, code, addr="10.0.0.2").get_data(as_text=True)
    assert snapshot() == before


def test_a_nul_in_a_request_value_is_a_400_on_both_databases(hub_app) -> None:
    """PostgreSQL's text cannot hold U+0000: the status lookup and the login queried with it and failed (500)."""
    from tests.support import csrf_of

    client = hub_app.test_client()
    assert client.get("/status", query_string={"code": "AB\x00CD", "tail": "1234"}).status_code == 400
    assert client.get("/status", query_string={"code\x00": "x"}).status_code == 400
    # A NUL that reached the query string undecoded (a server passing it on), and one sent as %00.
    assert client.get("/status", environ_overrides={"QUERY_STRING": "code=A\x00B&tail=1234"}).status_code == 400
    assert client.get("/status", query_string="code=AB%00&tail=1234").status_code == 400
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": "wang\x00", "password": "x", "csrf_token": token})
    assert resp.status_code == 400
    assert "控制字符" in resp.get_data(as_text=True)
    # Without it, as before.
    assert client.get("/status", query_string={"code": "ABCD", "tail": "1234"}).status_code == 200
    assert client.post("/login", data={"username": "wang", "password": "x", "csrf_token": token}).status_code == 401
