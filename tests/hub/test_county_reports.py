"""What a township reports to its county besides cases: daily figures and alerts (hub/county/figures_up.py).

Each side on its own, on SQLite and PostgreSQL: the township queues a finished day once, with
numbers and receipt codes only; the county stores a day once (a resend replaces it), refuses a
hostile report whole, and a township hub refuses both event types (wrong_level).
"""

from __future__ import annotations

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
        assert case.applicant_name not in str(data) and case.id_number not in str(data)


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
