"""Issue 18: search by phone number or part of a receipt code (by an index), and who acted at the hub in the clerk's words."""

from __future__ import annotations

from typing import Any

from node.db import database
from node.models import Request
from node.requests_views import _starts, hub_actor, search
from tests.node.test_capture_views import capture
from tests.node.test_requests_views import codes


def _plan(query: Any) -> str:
    sql, params = query.sql()
    return " ".join(str(row[-1]) for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))


def test_search_by_phone_and_part_of_code(clerk) -> None:
    a = capture(clerk, **{"applicant.name": "王建国", "applicant.phone": "139 1234 5678"})
    b = capture(clerk, **{"applicant.name": "刘桂英", "applicant.phone": "13800138000"})
    both = [a, b]
    get = lambda q: clerk.client.get("/", query_string={"q": q}).get_data(as_text=True)  # noqa: E731 - a one-line page fetcher for this test
    assert codes(get("139-1234-5678"), both) == {a.receipt_code}
    assert codes(get("+86 13800138000"), both) == {b.receipt_code}
    assert codes(get(a.receipt_code[2:6]), both) >= {a.receipt_code}  # without this point's prefix
    assert codes(get(a.receipt_code[:5].lower()), both) >= {a.receipt_code}  # the start, typed in lower case
    assert codes(get(a.receipt_code[-4:]), both) >= {a.receipt_code}  # the end: found by looking inside codes
    assert codes(get("13912345670"), both) == set()  # another number finds nothing, not everything


def test_phone_and_code_searches_use_indexes(clerk) -> None:
    assert "request_phone" in _plan(search("13912345678", "", ""))
    assert "request_receipt_code" in _plan(Request.select().where(_starts(Request.receipt_code, "22ABC")))


def test_hub_actor_names_staff_and_system_and_falls_back_for_old_updates() -> None:
    assert hub_actor({"action": "refuse", "actor_name": "王科员", "assignee": "wang"}) == "王科员"
    assert hub_actor({"action": "received", "actor_name": "系统"}) == "系统"
    # Before the hub sent actor_name: never the login name.
    assert hub_actor({"action": "accept", "assignee": "wang"}) == "乡镇中心"
    assert hub_actor({"action": "received", "assignee": "wang"}) == "系统"
