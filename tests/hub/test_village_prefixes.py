"""A hub past 960 villages: 3-symbol receipt prefixes, their 10-symbol codes synced and looked up,
and a clear Chinese refusal once every prefix is given out (issue 17 §3: 1,000 villages per hub)."""

from __future__ import annotations

import pytest

from hub.clock import now
from hub.enrolment import VillageLimitError, issue_code, next_village_prefix
from hub.models import Case, Village
from hub.staff import create_user
from shared import protocol
from shared.receipt_codes import FIRST_LONG_NODE, MAX_VILLAGE, format_code, new_code, node_prefix
from tests.factories import capture
from tests.hub.console_support import new_case
from tests.hub.pages import csrf_of, login_as
from tests.nodesim import NodeSim


def test_prefixes_past_the_old_cap_and_the_clear_refusal_at_the_new_one() -> None:
    assert next_village_prefix(FIRST_LONG_NODE - 1) == "ZY"  # the 960th village, as before
    assert next_village_prefix(FIRST_LONG_NODE) == "2ZZ"  # the 961st: a 3-symbol prefix, not an error
    assert next_village_prefix(1000) == "33A"  # 1000 = 1·31² + 1·31 + 8
    assert len(next_village_prefix(MAX_VILLAGE)) == 3
    with pytest.raises(VillageLimitError) as refused:
        next_village_prefix(MAX_VILLAGE + 1)
    message = str(refused.value)
    assert f"{MAX_VILLAGE + 1} 个村" in message
    assert "不能再登记新的村" in message


def _villages_up_to(count: int) -> None:
    """A hub that already holds `count` villages (inserted at once: enrolling each would take minutes)."""
    Village.insert_many(
        [{"name": f"已登记村{n:05d}", "prefix": node_prefix(n), "created_at": now()} for n in range(count)]
    ).execute()


def test_the_961st_village_enrols_syncs_and_its_code_is_found_on_the_status_page(hub_app) -> None:
    _villages_up_to(FIRST_LONG_NODE)
    create_user("wang", "王芳", "secret-pass", "staff", ["W05", "W09", "W10"])
    sim = NodeSim(hub_app.test_client(), issue_code("第九百六十一村"))
    assert sim.prefix == "2ZZ"
    assert Village.get(Village.name == "第九百六十一村").prefix == "2ZZ"  # fits the column (schema 11)
    code = new_case(sim, "DB-01")
    assert len(code) == 10
    assert Case.get(Case.receipt_code == code).state == "received"
    resp = hub_app.test_client().get("/status", query_string={"code": format_code(code).lower(), "tail": "8000"})
    assert resp.status_code == 200
    assert "农村最低生活保障申请" in resp.get_data(as_text=True)


def test_a_short_prefix_village_cannot_send_a_code_of_a_long_prefix_village(hub_app) -> None:
    _villages_up_to(30)  # the next village is number 30: prefix 2Z, while 2ZZ is village 960's
    sim = NodeSim(hub_app.test_client(), issue_code("第三十一村"))
    assert sim.prefix == "2Z"
    data = capture("JF-01")
    data["receipt_code"] = new_code("2ZZ")  # starts with 2Z, and is valid, but is not 2Z's
    data["catalogue_version"] = 1
    resp = sim.send(sim.events(("request.captured", protocol.new_id(), data)))
    assert resp["ack"]["accepted"] == 0
    assert resp["ack"]["results"][0]["code"] == "bad_receipt_code"
    assert Case.select().count() == 0


def test_full_hub_refuses_a_new_village_in_chinese_on_the_fleet_page(hub_app, monkeypatch) -> None:
    import hub.enrolment

    monkeypatch.setattr(hub.enrolment, "MAX_VILLAGE", 2)  # three prefixes, so the test need not make 29,791
    _villages_up_to(3)
    client = hub_app.test_client()
    login_as(client, "supervisor")
    page = client.get("/fleet/").get_data(as_text=True)
    resp = client.post("/fleet/code", data={"csrf_token": csrf_of(page), "village": "第四村", "hours": "24"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "本中心已登记 3 个村，达到回执码可编号的上限（3 个村），不能再登记新的村" in html
    assert "有效期" not in html  # not mistaken for a bad number of hours
    assert Village.select().count() == 3
    assert issue_code("已登记村00001")  # a village already enrolled still gets codes (a replacement PC)
