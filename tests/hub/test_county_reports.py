"""What a township reports to its county besides cases: daily figures and alerts (hub/county/figures_up.py).

Each side on its own, on SQLite and PostgreSQL: the township queues a finished day once, with
numbers and receipt codes only; the county stores a day once (a resend replaces it), refuses a
hostile report whole, and a township hub refuses both event types (wrong_level).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from hub import cases
from hub.clock import now, today
from hub.county import figures_up, level, uplink
from hub.enrolment import issue_code
from hub.models import AuditEntry, Case, ForkAlert, Node, TownshipAlert, TownshipFigures
from shared import messages, protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim

DAY = "2026-11-27"


@pytest.fixture
def county(hub_app):
    level.choose(level.COUNTY)
    yield hub_app
    level.forget()


def figures(day: str = DAY, **line_changes) -> tuple[str, str, dict]:
    line = {"item_code": "JF-02", "village": "桃源村", "received": 3, "closed": 2, "on_time": 1, "overdue": 1}
    lines = [line | line_changes, {**line, "item_code": "JF-01", "received": 5}]
    return ("township.figures", "figures", {"day": day, "lines": lines})


def alert(count: int = 2, **changes) -> tuple[str, str, dict]:
    data = {"day": DAY, "kind": "overdue", "village": "桃源村", "count": count, "receipt_codes": ["22A1B2C3"][:count]}
    return ("township.alert", f"overdue-{DAY}", data | changes)


def stored() -> list[tuple]:
    return sorted(
        (f.township.name, f.day.isoformat(), f.item_code, f.village, f.received, f.closed, f.on_time, f.overdue)
        for f in TownshipFigures.select()
    )


def test_county_stores_a_days_figures_once_and_a_resend_replaces_them(county) -> None:
    township = NodeSim(county.test_client(), issue_code("青山镇"))
    assert township.send(township.events(figures()))["ack"]["accepted"] == 1
    assert stored() == [
        ("青山镇", DAY, "JF-01", "桃源村", 5, 2, 1, 1),
        ("青山镇", DAY, "JF-02", "桃源村", 3, 2, 1, 1),
    ]
    resp = township.send(township.events(figures(received=4)))
    assert resp["ack"]["accepted"] == 1
    assert [row[4] for row in stored()] == [5, 4]  # replaced, not doubled
    township.send(township.events(figures(day="2026-11-28")))
    assert len(stored()) == 4


@pytest.mark.parametrize(
    "hostile",
    [
        figures(day="2026-02-30"),
        figures(day="明天"),
        figures(received=-1),
        figures(on_time=3),  # more closed on time than closed
        figures(item_code="JF-01"),  # the same item and village twice
        figures(village="村" * 101),
        figures(applicant_name="王某"),  # no personal data travels in the figures
        ("township.figures", "x", {"day": DAY, "lines": [], "surprise": 1}),
        alert(kind="stolen"),
        alert(count=2**31),
        alert(receipt_codes=["X" * 17]),
        alert(receipt_codes=["22A1B2C3"] * 501),
        alert(day="2026-13-01"),
    ],
)
def test_county_refuses_a_hostile_report_and_stores_nothing(county, hostile) -> None:
    township = NodeSim(county.test_client(), issue_code("青山镇"))
    resp = township.send(township.events(hostile))
    assert [r["code"] for r in resp["ack"]["results"]] == ["bad_report"]
    assert TownshipFigures.select().count() == 0
    assert TownshipAlert.select().count() == 0


def test_county_keeps_the_last_alert_of_a_day_and_tells_the_supervisor(county) -> None:
    township = NodeSim(county.test_client(), issue_code("青山镇"))
    township.send(township.events(alert()))
    township.send(township.events(alert(count=1, receipt_codes=["22A1B2C3"])))
    [row] = TownshipAlert.select()
    assert (row.township.name, row.kind, row.village, row.count, row.receipt_codes) == (
        "青山镇",
        "overdue",
        "桃源村",
        1,
        ["22A1B2C3"],
    )
    assert AuditEntry.select().where(AuditEntry.action == "county.township_alert").count() == 2
    assert [a.id for a in figures_up.recent_alerts(on=date(2026, 11, 28))] == [row.id]


def test_a_township_hub_refuses_reports_meant_for_a_county(hub_app) -> None:
    village = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    resp = village.send(village.events(figures(), alert()))
    assert [r["code"] for r in resp["ack"]["results"]] == ["wrong_level", "wrong_level"]
    assert TownshipFigures.select().count() == 0
    assert TownshipAlert.select().count() == 0


# --- the township's side -------------------------------------------------------------------------


@pytest.fixture
def township(hub_app, tmp_path):
    """A township with one case received and approved today and one still open, and its uplink database."""
    village = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    done, waiting = protocol.new_id(), protocol.new_id()
    village.send(
        village.events(
            ("request.captured", done, {**capture("JF-01"), "receipt_code": new_code(village.prefix)}),
            ("request.captured", waiting, {**capture("JF-02"), "receipt_code": new_code(village.prefix)}),
        )
    )
    code = Case.get_by_id(done).receipt_code
    cases.act(code, "accept", "zhou")
    cases.act(code, "approve", "zhou")
    data_dir = tmp_path / "township"
    data_dir.mkdir()
    return data_dir, done, waiting


def queued(data_dir) -> list[tuple[str, dict]]:
    from node.models import Event

    with uplink.opened(data_dir):
        return [(e.type, e.data) for e in Event.select().order_by(Event.id)]


def test_township_queues_a_finished_days_figures_once_without_personal_data(township) -> None:
    data_dir, done, waiting = township
    tomorrow = today() + timedelta(days=1)
    with uplink.opened(data_dir):
        assert figures_up.queue_reports(tomorrow) == 1
        assert figures_up.queue_reports(tomorrow) == 0
    [(type_, data)] = queued(data_dir)
    assert type_ == "township.figures"
    day = messages.convert(data, messages.TownshipFiguresData)
    assert day.day == today().isoformat()
    counted = {(line.item_code, line.village): (line.received, line.closed, line.on_time) for line in day.lines}
    assert counted == {("JF-01", "桃源村"): (1, 1, 1), ("JF-02", "桃源村"): (1, 0, 0)}
    for case in Case.select():
        assert case.applicant_name not in str(data)
        assert case.id_number not in str(data)


def test_days_missed_while_the_scheduler_was_stopped_are_sent_once_each(township) -> None:
    data_dir, _, _ = township
    with uplink.opened(data_dir):
        figures_up.queue_reports(today() + timedelta(days=1))
        assert figures_up.queue_reports(today() + timedelta(days=4)) == 3
        assert figures_up.queue_reports(today() + timedelta(days=4)) == 0
        figures_up.queue_reports(today() + timedelta(days=100))  # at most BACKFILL_DAYS back, and the last day
    days = [data["day"] for type_, data in queued(data_dir) if type_ == "township.figures"]
    assert days[:4] == [(today() + timedelta(days=n)).isoformat() for n in range(4)]
    assert len(days) == len(set(days)) == 4 + figures_up.BACKFILL_DAYS + 1


def test_township_sends_its_overdue_cases_and_a_new_fork_as_alerts(township) -> None:
    data_dir, _, waiting = township
    case = Case.get_by_id(waiting)
    case.deadline = today() - timedelta(days=3)
    case.save()
    with uplink.opened(data_dir):
        figures_up.queue_reports(today() + timedelta(days=1))
    alerts = [data for type_, data in queued(data_dir) if type_ == "township.alert"]
    assert [(a["kind"], a["village"], a["count"], a["receipt_codes"]) for a in alerts] == [
        ("overdue", "桃源村", 1, [case.receipt_code])
    ]
    ForkAlert.create(node=Node.get(), first_seq=1, last_seq=1, offered_hash="0" * 64, at=now())
    with uplink.opened(data_dir):
        assert figures_up.queue_reports(today() + timedelta(days=1)) == 1
        assert figures_up.queue_reports(today() + timedelta(days=1)) == 0
    fork = [data for type_, data in queued(data_dir) if type_ == "township.alert"][-1]
    assert (fork["kind"], fork["village"], fork["count"]) == ("fork", "桃源村", 1)


# --- what the county's supervisors see -----------------------------------------------------------


def two_townships_report(county) -> None:
    first = NodeSim(county.test_client(), issue_code("青山镇"))
    second = NodeSim(county.test_client(), issue_code("白石镇"), prefix="23")
    first.send(first.events(figures(day="2026-10-30"), figures(day="2026-11-27", overdue=4)))
    second.send(second.events(figures(day="2026-11-27", received=7), alert()))


def test_county_supervisors_see_the_figures_per_township_item_and_month_and_export_them(county) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from tests.hub.pages import login_as

    two_townships_report(county)
    client = county.test_client()
    login_as(client, "supervisor")
    page = client.get("/county/figures").get_data(as_text=True)
    # Each report has a JF-02 line and a JF-01 line (5 received): 青山镇 reported two days, 白石镇 one.
    assert re.search(r'data-key="青山镇">\s*<td>青山镇</td>\s*<td class="received">16</td>', page)
    assert re.search(r'data-key="白石镇">\s*<td>白石镇</td>\s*<td class="received">12</td>', page)
    assert re.search(r'data-key="2026-10">\s*<td>2026-10</td>\s*<td class="received">8</td>', page)
    # Overdue is as each township's last day said it: 青山镇 4 + 1, 白石镇 1 + 1 (not the sum over days).
    assert re.search(r'data-key="total">\s*<td>合计</td>.*?<td class="overdue red">7</td>', page, re.S)
    month = client.get("/county/figures?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert 'data-key="2026-10"' not in month
    resp = client.get("/county/figures.xlsx?from=2026-11-01")
    assert resp.status_code == 200
    wb = load_workbook(BytesIO(resp.data))
    assert wb.sheetnames == ["乡镇", "事项", "月份"]
    rows = [[c.value for c in row] for row in wb["乡镇"].iter_rows(min_row=2)]
    assert rows[-1][:4] == ["合计", 20, 8, 4]


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=2026-11-30&to=2026-11-01", "to=明天"])
def test_a_bad_period_is_a_400_and_audited(county, query) -> None:
    from tests.hub.pages import login_as

    client = county.test_client()
    login_as(client, "supervisor")
    assert client.get(f"/county/figures?{query}").status_code == 400
    assert client.get(f"/county/figures.xlsx?{query}").status_code == 400
    assert AuditEntry.select().where(AuditEntry.action.startswith("figures")).count() == 2


def test_county_figures_are_for_supervisors(county) -> None:
    from tests.hub.pages import login_as

    client = county.test_client()
    login_as(client, "staff")
    assert client.get("/county/figures").status_code == 403
    assert client.get("/county/figures.xlsx").status_code == 403


def test_a_township_hub_has_no_county_figures(hub_app) -> None:
    from tests.hub.pages import login_as

    client = hub_app.test_client()
    login_as(client, "supervisor")
    assert client.get("/county/figures").status_code == 404
    assert client.get("/county/figures.xlsx").status_code == 404
    assert 'id="township-alerts"' not in client.get("/fleet/").get_data(as_text=True)


def test_the_county_fleet_page_lists_the_townships_alerts(county) -> None:
    from tests.hub.pages import login_as

    two_townships_report(county)
    client = county.test_client()
    login_as(client, "supervisor")
    page = client.get("/fleet/").get_data(as_text=True)
    assert re.search(r'<tr class="yellow" data-kind="overdue"><td>2026-11-27</td><td>白石镇</td><td>桃源村</td>', page)


def test_a_township_revoked_at_the_county_is_refused_stored_nothing_and_the_supervisor_is_told(county) -> None:
    from hub.enrolment import revoke
    from tests.hub.pages import login_as

    township = NodeSim(county.test_client(), issue_code("青山镇"))
    revoke("青山镇")
    for _ in range(2):
        status, resp = township.post(township.batch(township.events(figures(), alert()))[1])
        assert (status, resp["error"]["code"]) == (403, "revoked")
    assert TownshipFigures.select().count() == 0
    assert TownshipAlert.select().count() == 0
    # Told once (the client retries every few minutes), on the fleet page too.
    assert AuditEntry.select().where(AuditEntry.action == "node.revoked_attempt").count() == 1
    client = county.test_client()
    login_as(client, "supervisor")
    page = client.get("/fleet/").get_data(as_text=True)
    assert "已注销的密钥仍在尝试同步" in page


def test_county_figures_and_alerts_render_in_english(county) -> None:
    from tests.hub.pages import login_as
    from tests.test_english import leftovers, masked

    two_townships_report(county)
    client = county.test_client()
    login_as(client, "supervisor")
    client.set_cookie("lang", "en")
    data = masked(["陈督查", "青山镇", "白石镇", "桃源村"]) | {"青山镇", "白石镇", "桃源村"}
    from hub.catalogue_store import current
    from tests.test_english import catalogue_strings

    data |= set(catalogue_strings(current().to_dict()))
    found = {}
    for url in ("/county/figures", "/fleet/"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        if left := leftovers(resp.get_data(as_text=True), data):
            found[url] = left
    assert not found, found
