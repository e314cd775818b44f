"""受理登记册: the page by window and month, the .xlsx export, and the CLI export."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hub.clock import today
from hub.models import Case
from shared.receipt_codes import format_code
from tests.hub.console_support import hub_cli, Desk, new_case, snapshot


@pytest.fixture
def month() -> str:
    return today().strftime("%Y-%m")


def test_page_lists_the_month_filtered_by_window(hub_app, sim, month) -> None:
    wang = Desk(hub_app, "wang", "王芳", windows=["W05", "W10"])
    db = new_case(sim, "DB-01", name="赵六")
    fp = new_case(sim, "FP-01", name="钱七")
    jf = new_case(sim, "JF-01", name="孙八")
    wang.act(fp, "immediate")
    html = wang.get(f"/console/register?month={month}").get_data(as_text=True)
    assert "窗口服务事项受理登记册" in html
    assert "共 2 件" in html
    assert format_code(db) in html
    assert format_code(fp) in html
    assert format_code(jf) not in html
    assert "赵六" in html
    assert "即办件" in html
    assert "办结（准予）" in html
    assert "王芳" in html
    only = wang.get(f"/console/register?month={month}&window=W10").get_data(as_text=True)
    assert format_code(fp) in only
    assert format_code(db) not in only
    assert "计划生育窗口" in only
    assert "register-print.css" in html
    empty = wang.get("/console/register?month=2020-01").get_data(as_text=True)
    assert "本月暂无登记" in empty
    before = snapshot()
    for query in ("month=2026-13", "month=oct", "month=2026-10&window=W14"):
        resp = wang.get(f"/console/register?{query}")
        text = resp.get_data(as_text=True)
        assert resp.status_code == 400
        assert "月份格式" in text or "不负责该窗口" in text
        assert wang.get(f"/console/register.xlsx?{query}").status_code == 400
    assert snapshot() == before


def test_xlsx_export_has_the_same_lines(hub_app, sim, month) -> None:
    boss = Desk(hub_app, "boss", "督查", role="supervisor")
    codes = [new_case(sim, item) for item in ("DB-01", "JF-01", "FP-02")]
    resp = boss.get(f"/console/register.xlsx?month={month}")
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    assert f"register-{month}.xlsx" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert "窗口服务事项受理登记册" in rows[0][0]
    assert rows[1][:4] == ("序号", "回执码", "收件日期", "申请人")
    assert [r[1] for r in rows[2:]] == [format_code(c) for c in codes]
    assert rows[2][2].date() == today()


def test_cli_export(hub_app, sim, month, tmp_path: Path) -> None:
    code = new_case(sim, "DB-02")
    out = tmp_path / "reg.xlsx"
    result = hub_cli(hub_app, "register", "export", str(out), "--month", month, "--window", "W05")
    assert result.exit_code == 0, result.output
    assert "已导出 1 件" in result.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[2][1] == format_code(code)
    bad = hub_cli(hub_app, "register", "export", str(out), "--month", "2026/10")
    assert bad.exit_code != 0
    assert "月份格式" in bad.output
    assert Case.select().count() == 1
