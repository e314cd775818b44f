"""The centre's report (issue 15 §4): the reference year's table from data of its shape, every
breakdown adding up, the page, the CLI and the workbook saying the same, and bad periods refused."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hub import figures
from hub.figures import CaseRow, parse_period, summarise
from hub.models import AuditEntry, Case
from shared.workdays import WorkCalendar
from tests.hub import centre_data
from tests.hub.console_support import hub_cli
from tests.hub.pages import login_as

START, END = centre_data.PERIOD
ON = date(2025, 11, 5)


def _line_adds_up(fig: figures.Figures) -> None:
    assert fig.handled == fig.instant + fig.undertaken + fig.refused + fig.withdrawn, fig.key
    assert fig.undertaken == fig.undertaken_done + fig.undertaken_open, fig.key


def test_reference_year_shape(hub_app) -> None:
    written = centre_data.seed()
    assert written == 11_211 + centre_data.REFERENCE.outside
    rep = figures.build_report(START, END, on=ON)
    t = rep.total
    assert (t.handled, t.instant, t.undertaken, t.undertaken_done, t.undertaken_open) == (
        11_211,
        8_803,
        2_408,
        2_353,
        55,
    )
    assert t.instant_all_done
    assert t.instant_done == 8_803
    assert t.refused == 0
    assert t.undertaken_on_time_rate == 1.0
    assert figures.percent(t.undertaken_on_time_rate) == "100.0%"
    for by, lines in rep.groups.items():
        assert sum(f.handled for f in lines) == 11_211, by
        assert sum(f.undertaken_done for f in lines) == 2_353, by
        for fig in lines:
            _line_adds_up(fig)
    sources = {f.key: f for f in rep.groups["source"]}
    assert sources["counter"].label == "中心窗口"
    assert sources["counter"].instant == 8_000
    assert sources["village"].instant == 803
    assert [f.key for f in rep.groups["month"]] == [f"2025-{m:02d}" for m in range(1, 11)]
    staff = {f.key: f for f in rep.groups["staff"]}
    assert set(staff) == set(centre_data.STAFF)
    assert staff["wang"].label == "王芳"
    assert sum(f.undertaken_open for f in staff.values()) == 55
    # Every window of the catalogue has a line, the ones that received nothing too.
    windows = [f.key for f in rep.groups["window"]]
    assert len(windows) == len(set(windows)) >= 3


def test_period_bounds_are_inclusive(hub_app) -> None:
    centre_data.seed(
        centre_data.Shape(instant_counter=20, instant_village=0, undertaken_done=0, undertaken_open=0, outside=10)
    )
    assert figures.build_report(None, None).total.handled == 30
    assert figures.build_report(date(2025, 11, 1), date(2025, 11, 1)).total.handled == 5
    assert figures.build_report(date(2024, 12, 31), None).total.handled == 30


def test_refused_and_open_immediate_are_the_centres_categories() -> None:
    cal = WorkCalendar()
    day = date(2025, 9, 1)

    def row(mode: str, state: str, closed: date | None = None, deadline: date | None = day) -> CaseRow:
        return CaseRow(
            item_code="X",
            window="W01",
            village="桃源村",
            mode=mode,
            state=state,
            received_on=day,
            deadline=deadline,
            closed_on=closed,
            paused_days=0,
            satisfaction=None,
        )

    fig = summarise(
        [
            row("immediate", "approved", day),
            row("immediate", "received"),
            row("processed", "approved", date(2025, 9, 3), date(2025, 9, 2)),
            row("processed", "refused", day, None),
            row("processed", "needs_materials"),
            row("immediate", "withdrawn"),
        ],
        cal,
        day,
    )
    _line_adds_up(fig)
    assert (fig.instant, fig.instant_done, fig.instant_all_done) == (2, 1, False)
    assert (fig.undertaken, fig.undertaken_done, fig.undertaken_open, fig.refused) == (2, 1, 1, 1)
    assert fig.undertaken_on_time_rate == 0.0  # one 承办件 completed, late
    assert summarise([row("immediate", "approved", day)], cal, day).undertaken_on_time_rate is None


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "message"),
    [
        ("2025-10-31", "2025-01-01", "开始日期不能晚于结束日期"),
        ("2025-13-01", "2025-12-01", "开始日期格式应为 YYYY-MM-DD"),
        ("2025-01-01", "31/10/2025", "结束日期格式应为 YYYY-MM-DD"),
        ("1900-01-01", "2025-01-01", "开始日期应在 2000 年至 2099 年之间"),
        ("2025-01-01" + "9" * 5000, "", "开始日期格式应为 YYYY-MM-DD"),
        ("2025-W05-1", "", "开始日期格式应为 YYYY-MM-DD"),
        ("", "20251031", "结束日期格式应为 YYYY-MM-DD"),
    ],
)
def test_bad_periods_are_refused_in_chinese(raw_from: str, raw_to: str, message: str) -> None:
    with pytest.raises(figures.PeriodError, match=message):
        parse_period(raw_from, raw_to)


def test_page_cli_and_workbook_agree(hub_app, tmp_path: Path) -> None:
    centre_data.seed(
        centre_data.Shape(
            instant_counter=30, instant_village=5, undertaken_done=12, undertaken_open=3, refused=2, outside=4
        )
    )
    client = hub_app.test_client()
    login_as(client, "supervisor")
    page = client.get("/supervision/?from=2025-01-01&to=2025-10-31&by=staff").get_data(as_text=True)
    for fid, value in [
        ("fig-handled", 52),
        ("fig-instant", 35),
        ("fig-undertaken", 15),
        ("fig-undertaken-done", 12),
        ("fig-undertaken-open", 3),
        ("fig-refused", 2),
        ("fig-on-time-rate", "100.0%"),
    ]:
        assert f'id="{fid}">{value}<' in page, fid
    assert "全部办结" in page
    assert "王芳" in page
    assert 'id="source-counter"' in page

    xlsx = tmp_path / "report.xlsx"
    out = hub_cli(
        hub_app, "figures", "--from", "2025-01-01", "--to", "2025-10-31", "--by", "source", "--xlsx", str(xlsx)
    )
    assert out.exit_code == 0, out.output
    assert (
        "接待（收件）52 件：即办件 35 件（全部办结）；承办件 15 件 = 已办结 12 + 正在办理 3；不予受理 2 件"
        in out.output
    )
    assert "按时办结率（承办件）：100.0%" in out.output
    assert "中心窗口" in out.output

    wb = load_workbook(io.BytesIO(xlsx.read_bytes()))
    summary = {r[0].value: r[1] for r in wb["中心报表"].iter_rows(min_row=2)}
    assert summary["接待（收件）"].value == 52
    assert summary["承办件"].value == 15
    assert summary["按时办结率（承办件）"].value == 1.0
    assert summary["按时办结率（承办件）"].number_format == "0.0%"
    by_source = wb["按来源"]
    header = [c.value for c in by_source[1]]
    rate = header.index("按时办结率") + 1
    total = by_source.cell(by_source.max_row, rate)
    assert by_source.cell(by_source.max_row, 1).value == "合计"
    assert total.value == 1.0
    assert total.number_format == "0.0%"
    assert by_source.column_dimensions["A"].width >= 8  # sized to 代办点（村）, not the default
    assert wb["按人员"]["A2"].value in set(centre_data.STAFF.values())


def test_bad_period_changes_nothing_and_is_audited(hub_app) -> None:
    centre_data.seed(
        centre_data.Shape(instant_counter=3, instant_village=0, undertaken_done=0, undertaken_open=0, outside=0)
    )
    cases = Case.select().count()
    client = hub_app.test_client()
    supervisor = login_as(client, "supervisor")
    audited = AuditEntry.select().count()
    resp = client.get("/supervision/?from=2025-10-31&to=2025-01-01")
    assert resp.status_code == 400
    assert "开始日期不能晚于结束日期" in resp.get_data(as_text=True)
    out = hub_cli(hub_app, "figures", "--from", "昨天", "--to", "2025-01-01")
    assert out.exit_code == 2
    assert "无法统计：开始日期格式应为 YYYY-MM-DD" in out.output
    missing = hub_cli(hub_app, "figures", "--to", "2025-01-01")
    assert missing.exit_code == 2
    assert "请给出统计期间" in missing.output
    colour = hub_cli(hub_app, "figures", "--from", "2025-01-01", "--to", "2025-01-02", "--by", "colour")
    assert colour.exit_code == 2
    assert "分组只能是：窗口（window）" in colour.output
    assert Case.select().count() == cases
    refused = list(
        AuditEntry.select()
        .where(AuditEntry.seq > audited, AuditEntry.action == "figures.refused")
        .order_by(AuditEntry.seq)
    )
    assert [(e.actor, e.detail["from"]) for e in refused] == [
        (supervisor, "2025-10-31"),
        ("cli", "昨天"),
        ("cli", ""),
        ("cli", "2025-01-01"),
    ]
    assert refused[0].detail["reason"] == "开始日期不能晚于结束日期"


def test_rate_chart_names_windows_and_draws_no_bar_without_completions(hub_app) -> None:
    centre_data.seed(
        centre_data.Shape(
            instant_counter=4,
            instant_village=0,
            undertaken_done=2,
            undertaken_open=2,
            outside=0,
            instant_items=("FP-01",),
            done_items=("DB-03",),
            open_items=("JF-01",),
        )
    )
    client = hub_app.test_client()
    login_as(client, "supervisor")
    page = client.get("/supervision/?by=window").get_data(as_text=True)
    rate_chart = next(svg for svg in page.split("<svg")[1:] if "按时办结率（承办件）" in svg.split(">")[0])
    assert "<title>民政：100%</title>" in rate_chart
    assert rate_chart.count("<rect") == 1  # 国土与城建 (open only) and 计划生育 (即办件 only): no bar, not 0 %
    assert rate_chart.count('class="no-bar"') == 2
    assert "尚无办结" in rate_chart
    assert "国土与城建</text>" in rate_chart
    assert "W09" not in rate_chart
