"""Supervision figures: the arithmetic on a small known data set, the dashboard, exports and charts."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from hub import cases
from hub.charts import bar_chart, line_chart
from hub.enrolment import issue_code
from hub.figures import CaseRow, grouped, percent, summarise
from hub.models import Case
from hub.sweep import run_sweep
from shared.workdays import WorkCalendar
from tests.hub.pages import captured, hub_time, login_as
from tests.nodesim import NodeSim

CAL = WorkCalendar()


def row(
    state: str,
    closed: date | None = None,
    *,
    window: str = "W05",
    village: str = "桃源村",
    item: str = "DB-03",
    mode: str = "processed",
    received: date = date(2025, 9, 1),
    deadline: date = date(2025, 9, 15),
    satisfaction: str | None = None,
) -> CaseRow:
    return CaseRow(
        item_code=item,
        window=window,
        village=village,
        mode=mode,
        state=state,
        received_on=received,
        deadline=deadline,
        closed_on=closed,
        paused_days=0,
        satisfaction=satisfaction,
    )


KNOWN = [
    row("approved", date(2025, 9, 5), satisfaction="满意"),  # on time, 4 working days
    row("denied", date(2025, 9, 19), village="杏花村", satisfaction="不满意"),  # late, 14 working days
    row("accepted", window="W09", item="JF-01"),  # in progress, overdue by Oct
    row(
        "approved",
        date(2025, 9, 1),
        mode="immediate",
        item="FP-01",
        window="W10",
        deadline=date(2025, 9, 1),
        received=date(2025, 9, 1),
        satisfaction="基本满意",
    ),
    row("refused", date(2025, 9, 2)),
]


def test_three_cases_one_on_time_one_late_one_open_gives_fifty_percent() -> None:
    fig = summarise(KNOWN[:3], CAL, date(2025, 10, 1))
    assert (fig.handled, fig.completed, fig.on_time, fig.late, fig.in_progress) == (3, 2, 1, 1, 1)
    assert fig.on_time_rate == 0.5
    assert percent(fig.on_time_rate) == "50.0%"
    assert fig.avg_workdays == 9.0  # (4 + 14) / 2
    assert fig.overdue_open == 1
    assert fig.satisfaction_rate == 0.5
    assert fig.responses == 2


def test_immediate_processed_refused_and_satisfaction() -> None:
    fig = summarise(KNOWN, CAL, date(2025, 9, 10))
    assert (fig.handled, fig.immediate, fig.processed, fig.refused, fig.completed) == (5, 1, 4, 1, 3)
    assert fig.on_time == 2
    assert fig.overdue_open == 0
    assert round(fig.satisfaction_rate or 0, 3) == round(2 / 3, 3)


def test_grouping_by_window_village_item_month() -> None:
    by_window = {f.key: f for f in grouped(KNOWN, "window", CAL, date(2025, 10, 1), {"W05": "W05 民政"})}
    assert set(by_window) == {"W05", "W09", "W10"}
    assert by_window["W05"].label == "W05 民政"
    assert by_window["W05"].handled == 3
    assert by_window["W05"].on_time_rate == 0.5
    assert by_window["W10"].on_time_rate == 1.0
    by_village = {f.key: f.handled for f in grouped(KNOWN, "village", CAL, date(2025, 10, 1))}
    assert by_village == {"杏花村": 1, "桃源村": 4}
    assert [f.key for f in grouped(KNOWN, "item", CAL, date(2025, 10, 1))] == ["DB-03", "FP-01", "JF-01"]
    assert [(f.key, f.handled) for f in grouped(KNOWN, "month", CAL, date(2025, 10, 1))] == [("2025-09", 5)]
    with pytest.raises(ValueError):
        grouped(KNOWN, "colour", CAL, date(2025, 10, 1))


def test_empty_period_has_no_rates() -> None:
    fig = summarise([], CAL, date(2025, 10, 1))
    assert fig.on_time_rate is None
    assert fig.avg_workdays is None
    assert percent(None) == "—"


def test_charts_are_plain_svg_without_script_or_inline_style() -> None:
    svg = str(bar_chart("按窗口：受理件数", ["W05", "W09<"], [3, 1], unit="件"))
    assert svg.startswith("<svg")
    assert svg.count("<rect") == 2
    assert "<script" not in svg
    assert "style=" not in svg
    assert "W09&lt;" in svg
    line = str(line_chart("按月", ["2025-08", "2025-09"], {"受理": [2, 5], "办结": [1, 3]}))
    assert line.count("<polyline") == 2
    assert "<script" not in line
    assert str(bar_chart("空", [], [])).startswith("<svg")


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T02:00:00")


@pytest.fixture
def known_cases(hub_client):
    """Through the real sync and case actions: 1 on time, 1 late, 1 in progress (DB-03, 10 working days)."""
    sim = NodeSim(hub_client, issue_code("桃源村"))
    with hub_time(at("2025-09-01")):
        events = [captured(sim, "DB-03") for _ in range(3)]
        sim.send(sim.events(*events))
    codes = [Case.get_by_id(e[1]).receipt_code for e in events]
    with hub_time(at("2025-09-02")):
        for code in codes:
            cases.act(code, "accept", "wang")
    with hub_time(at("2025-09-05")):
        cases.act(codes[0], "approve", "wang")
    with hub_time(at("2025-09-19")):  # due Sep 15
        cases.act(codes[1], "approve", "wang")
    run_sweep(date(2025, 9, 19))
    return codes


def test_dashboard_shows_figures_of_known_cases(hub_app, known_cases) -> None:
    client = hub_app.test_client()
    login_as(client, "supervisor")
    page = client.get("/supervision/").get_data(as_text=True)
    assert 'id="fig-handled">3<' in page
    assert 'id="fig-completed">2<' in page
    assert 'id="fig-in-progress">1<' in page
    assert 'id="fig-on-time-rate">50.0%<' in page
    assert 'id="fig-avg-days">9.0<' in page
    assert page.count("<svg") == 3
    assert "<script" not in page
    assert "W05 民政" in page
    watch = client.get("/supervision/watch").get_data(as_text=True)
    assert known_cases[2] in watch
    assert "超期" in watch
    by_month = client.get("/supervision/?by=month&from=2025-09-01&to=2025-09-30").get_data(as_text=True)
    assert "2025-09" in by_month
    assert 'id="fig-handled">3<' in by_month
    empty = client.get("/supervision/?from=2025-10-01").get_data(as_text=True)
    assert 'id="fig-handled">0<' in empty
    assert 'id="fig-on-time-rate">—<' in empty


def test_exports(hub_app, known_cases) -> None:
    client = hub_app.test_client()
    login_as(client, "supervisor")
    resp = client.get("/supervision/export.csv?by=window")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:2] == ["名称", "接待（收件）"]
    assert rows[-1][0] == "合计"
    total = dict(zip(rows[0], rows[-1]))
    assert total["接待（收件）"] == "3"
    assert total["承办件"] == "3"
    assert total["按时办结率"] == "50.0%"
    assert total["平均办结工作日"] == "9.0"
    wb = load_workbook(io.BytesIO(client.get("/supervision/export.xlsx").data))
    assert wb.sheetnames == [
        "中心报表",
        "按窗口",
        "按行政村",
        "按事项",
        "按月份",
        "按人员",
        "按来源",
        "超期",
        "临近到期",
    ]
    assert [c.value for c in wb["按行政村"][2]][:2] == ["桃源村", 3]
    assert [c.value for c in wb["按行政村"][3]][:2] == ["合计", 3]
    assert wb["超期"].max_row == 2
    assert wb["超期"]["A2"].value == known_cases[2]


def test_bad_filters_get_a_clear_message(hub_app) -> None:
    client = hub_app.test_client()
    login_as(client, "supervisor")
    for query, message in [
        ("from=2025-13-01", "开始日期格式应为 YYYY-MM-DD"),
        ("to=yesterday", "结束日期格式应为 YYYY-MM-DD"),
        ("from=2025-10-01&to=2025-09-01", "开始日期不能晚于结束日期"),
        ("by=colour", "分组只能是"),
    ]:
        for url in ("/supervision/", "/supervision/export.csv", "/supervision/export.xlsx"):
            resp = client.get(f"{url}?{query}")
            assert resp.status_code == 400, (url, query)
            assert message in resp.get_data(as_text=True), (url, query)


def test_supervisor_pages_refuse_window_staff(hub_app) -> None:
    client = hub_app.test_client()
    login_as(client, "staff")
    for url in (
        "/supervision/",
        "/supervision/watch",
        "/supervision/export.csv",
        "/supervision/export.xlsx",
        "/supervision/audit",
        "/fleet/",
    ):
        assert client.get(url).status_code == 403, url
    anonymous = hub_app.test_client()
    resp = anonymous.get("/supervision/")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]
    admin = hub_app.test_client()
    login_as(admin, "admin")
    assert admin.get("/supervision/").status_code == 200


def test_watch_lists_are_live_even_without_a_sweep(hub_app, hub_client) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    with hub_time(at("2025-09-01")):
        ev = captured(sim, "DB-03")
        sim.send(sim.events(ev))
    code = Case.get_by_id(ev[1]).receipt_code
    assert Case.get_by_id(ev[1]).urgency == "green"  # no sweep has run
    client = hub_app.test_client()
    login_as(client, "supervisor")
    watch = client.get("/supervision/watch").get_data(as_text=True)
    assert code in watch.split("<h1>临近到期")[0]
    assert "期限巡检尚未运行" in watch
