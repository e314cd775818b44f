"""办件结果公示: recent decisions per item and village, with nothing beyond masked name, village, item, decision, date."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.clock import now
from hub.enrolment import issue_code
from hub.models import Case
from hub.staff import create_user
from tests.hub.console_support import Desk, new_case
from tests.nodesim import NodeSim


@pytest.fixture
def sims(hub_app):
    create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09", "W10"])
    client = hub_app.test_client()
    return NodeSim(client, issue_code("桃源村")), NodeSim(client, issue_code("杏花村"))


def test_results_show_decisions_masked_and_nothing_else(hub_app, sims) -> None:
    a, b = sims
    wang = Desk(hub_app, "wang", create=False)
    done = new_case(a, "FP-01", name="王小明")
    refused = new_case(b, "DB-03", name="欧阳娜娜")
    new_case(a, "JF-01", name="赵大海")  # still open: not published
    old = new_case(b, "JF-01", name="钱多多")
    wang.act(done, "approve")
    wang.act(refused, "refuse", reason="不符合临时救助条件<b>", legal_basis="《社会救助暂行办法》")
    wang.act(old, "refuse", reason="不符合条件", legal_basis="某办法")
    Case.update(closed_at=now() - timedelta(days=200)).where(Case.receipt_code == old).execute()
    client = hub_app.test_client()
    resp = client.get("/results")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<script" not in html.lower()
    assert "王**" in html
    assert "欧***" in html
    assert "生育登记" in html
    assert "临时救助申请" in html
    assert "办结（准予）" in html
    assert "不予受理" in html
    assert "桃源村" in html
    assert "杏花村" in html
    assert "赵" not in html
    assert "钱" not in html  # still open; older than the period
    for c in Case.select():
        for secret in (c.receipt_code, c.id_number, c.phone, c.applicant_name):
            assert secret not in html
    for secret in ("王芳", "不符合临时救助条件", "社会救助暂行办法", "李文书"):
        assert secret not in html
    only = client.get("/results", query_string={"village": "杏花村"}).get_data(as_text=True)
    assert "欧***" in only
    assert "王**" not in only
    only = client.get("/results", query_string={"item": "FP-01"}).get_data(as_text=True)
    assert "王**" in only
    assert "欧***" not in only


def test_unknown_filters_are_refused_plainly(hub_client) -> None:
    for args in ({"item": "<script>x</script>"}, {"village": "不存在村"}, {"item": "A" * 500}):
        resp = hub_client.get("/results", query_string=args)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400
        assert "没有这个事项或行政村" in html
        assert "<script>x" not in html


def test_rating_results_are_published_as_counts_only(hub_app, sims) -> None:
    from hub.ratings import record_rating

    a, _ = sims
    good, bad = new_case(a, "FP-01", name="王小明"), new_case(a, "FP-01", name="李小红")
    record_rating(Case.get(Case.receipt_code == good), "非常满意", "好", "village", "李文书")
    record_rating(Case.get(Case.receipt_code == bad), "不满意", "<b>慢</b>", "online", "villager")
    html = hub_app.test_client().get("/results").get_data(as_text=True)
    assert "累计评价 2 件，满意率 50.0%；差评 1 件，已整改 0 件，整改中 1 件" in html
    assert "慢" not in html
    assert "王" not in html
    assert "李" not in html
