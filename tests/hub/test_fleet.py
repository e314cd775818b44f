"""The node fleet: health table, enrolment codes with QR, revocation, replacement, fork and silence alerts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from hub.clock import china_date, now
from hub.enrolment import issue_code
from hub.fleet import alerts
from hub.models import AuditEntry, EnrolmentCode, ForkAlert, Node
from tests.hub.pages import captured, csrf_of, hub_time, login_as
from tests.nodesim import NodeSim


@pytest.fixture
def sup(hub_app):
    client = hub_app.test_client()
    login_as(client, "supervisor")
    return client


def issue_on_page(client, village: str, hours: str = "24"):
    page = client.get("/fleet/").get_data(as_text=True)
    return client.post("/fleet/code", data={"csrf_token": csrf_of(page), "village": village, "hours": hours})


def code_on(html: str) -> str:
    return re.search(r'id="enrol-code">([A-Z0-9-]+)<', html).group(1)  # type: ignore[union-attr]


def revoke_on_page(client, village: str, confirm: str | None = None):
    page = client.get("/fleet/").get_data(as_text=True)
    return client.post(
        "/fleet/revoke",
        data={"csrf_token": csrf_of(page), "village": village, "confirm": village if confirm is None else confirm},
    )


def test_code_from_page_enrols_a_node_shown_in_the_table(hub_app, sup) -> None:
    resp = issue_on_page(sup, "桃源村")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'src="data:image/svg+xml' in page
    assert resp.headers["Cache-Control"] == "no-store"
    sim = NodeSim(hub_app.test_client(), code_on(page))
    sim.send(sim.events(captured(sim)))
    table = sup.get("/fleet/").get_data(as_text=True)
    node = Node.get()
    assert node.fingerprint in table
    assert "使用中" in table
    assert "桃源村" in table
    # The page shows Beijing time: from 16:00 UTC that is already the next day.
    assert china_date(node.enrolled_at).isoformat() in table
    assert node.last_sync_at is not None
    assert "没有告警" in table


def test_bad_code_requests_refused(sup) -> None:
    for village, hours, message in [
        ("", "24", "请填写行政村名称"),
        ("<script>", "24", "不能含控制字符或尖括号"),
        ("杏花村", "0", "有效期应在 1 到 168 小时之间"),
        ("杏花村", "1000", "有效期应在 1 到 168 小时之间"),
        ("杏花村", "abc", "有效期必须是整数小时"),
    ]:
        resp = issue_on_page(sup, village, hours)
        assert resp.status_code == 400, (village, hours)
        assert message in resp.get_data(as_text=True), (village, hours)
    assert EnrolmentCode.select().count() == 0


def test_revoke_refuses_further_syncs_and_a_replacement_restores_history(hub_app, sup) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    sim.send(sim.events(captured(sim), captured(sim)))
    # A second code while the node is active is refused: one node per village.
    resp = issue_on_page(sup, "桃源村")
    assert resp.status_code == 400
    assert "须先停用旧的代办点" in resp.get_data(as_text=True)
    # Revocation needs the typed village name.
    assert revoke_on_page(sup, "桃源村", confirm="杏花村").status_code == 400
    assert Node.get().status == "active"
    assert revoke_on_page(sup, "桃源村").status_code == 302
    assert Node.get().status == "revoked"
    _, raw = sim.batch(sim.events(captured(sim)))
    status, body = sim.post(raw)
    assert status == 403
    assert body["error"]["code"] == "revoked"
    assert revoke_on_page(sup, "桃源村").status_code == 409
    # The replacement PC: a new code for the same village, a new key, the village's history back.
    replacement = NodeSim(hub_app.test_client(), code_on(issue_on_page(sup, "桃源村").get_data(as_text=True)))
    assert replacement.node_id == sim.node_id
    hello = replacement.poll(kind="hello")
    assert [h["seq"] for h in hello["history"]] == [1, 2]
    assert Node.get().fingerprint != ""
    assert Node.get().status == "active"
    assert [
        a.action for a in AuditEntry.select().where(AuditEntry.action.startswith("node.")).order_by(AuditEntry.seq)
    ] == [
        "node.code_issued",
        "node.enrolled",
        "node.code_refused",
        "node.revoked",
        "node.revoked_attempt",  # the revoked key signed one more batch: the supervisor is told
        "node.code_issued",
        "node.enrolled",
    ]


def test_silent_and_never_synced_nodes_raise_alerts(hub_app, sup) -> None:
    with hub_time(now() - timedelta(days=10)):
        quiet = NodeSim(hub_app.test_client(), issue_code("桃源村"))
        quiet.poll()
        NodeSim(hub_app.test_client(), issue_code("杏花村"))
    with hub_time(now() - timedelta(days=1)):
        recent = NodeSim(hub_app.test_client(), issue_code("柳河村"))
        recent.poll()
    # (The simulated nodes' own clocks run on real time, so they also show up as skewed: not this test's point.)
    found = {(a.kind, a.village) for a in alerts(3) if a.kind != "clock"}
    assert found == {("silent", "桃源村"), ("never", "杏花村")}
    assert {a.village for a in alerts(30) if a.kind != "clock"} == set()
    page = sup.get("/fleet/").get_data(as_text=True)
    assert "桃源村</strong>：已 10 天未同步" in page
    assert "注册后超过 3 天从未同步" in page
    hub_app.config["SILENT_NODE_DAYS"] = 14
    page = sup.get("/fleet/").get_data(as_text=True)
    assert "已 10 天未同步" not in page
    assert "从未同步" not in page


def test_fork_alert_shown_and_resolved(hub_app, sup) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    sim.send(sim.events(captured(sim)))
    sim.seq, sim.last_hash = 0, "0" * 64
    _, raw = sim.batch(sim.events(captured(sim)))
    assert sim.post(raw)[0] == 409
    page = sup.get("/fleet/").get_data(as_text=True)
    assert "序号 1–1 出现内容不同的重复批次" in page
    fork = ForkAlert.get()
    assert sup.post(f"/fleet/forks/{fork.id}/resolve", data={}).status_code == 400  # no CSRF token
    assert ForkAlert.get().resolved is False
    resp = sup.post(f"/fleet/forks/{fork.id}/resolve", data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 302
    assert ForkAlert.get().resolved is True
    assert "重复批次" not in sup.get("/fleet/").get_data(as_text=True)


def test_revoke_without_csrf_token_changes_nothing(hub_app, sup) -> None:
    NodeSim(hub_app.test_client(), issue_code("桃源村"))
    resp = sup.post("/fleet/revoke", data={"village": "桃源村", "confirm": "桃源村"})
    assert resp.status_code == 400
    assert Node.get().status == "active"
    resp = sup.post("/fleet/code", data={"village": "杏花村", "hours": "24"})
    assert resp.status_code == 400
    assert EnrolmentCode.select().count() == 1


def test_skewed_node_clock_raises_an_alert(hub_app, sup) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    sim.poll()
    assert [a.kind for a in alerts(3)] == []
    with hub_time(now() - timedelta(hours=2)):  # the node's clock is two hours ahead of the hub's
        sim.poll()
    found = [a for a in alerts(3) if a.kind == "clock"]
    assert len(found) == 1
    assert "电脑时钟快了约 120 分钟" in found[0].message
    assert "电脑时钟快了约 120 分钟" in sup.get("/fleet/").get_data(as_text=True)


def test_an_id_beyond_a_64_bit_integer_is_not_found_on_both_databases(hub_app, sup) -> None:
    """SQLite cannot even bind one (OverflowError: a 500), PostgreSQL compares it: both answer alike."""
    from tests.hub.console_support import new_case

    big = 2**63
    page = sup.get("/fleet/").get_data(as_text=True)
    assert sup.post(f"/fleet/forks/{big}/resolve", data={"csrf_token": csrf_of(page)}).status_code == 404
    assert sup.post(f"/fleet/forks/{big - 1}/resolve", data={"csrf_token": csrf_of(page)}).status_code == 404
    code = new_case(NodeSim(hub_app.test_client(), issue_code("桃源村")))
    page = sup.get(f"/console/case/{code}").get_data(as_text=True)
    for ext_id in (big, -big - 1, 0):
        resp = sup.post(f"/console/case/{code}/extension/decide", data={"csrf_token": csrf_of(page), "ext_id": ext_id})
        assert resp.status_code == 400
    assert sup.get(f"/console/case/{code}/paper/{big}").status_code == 404
