"""Formula injection: names synced from a village are text in every xlsx and csv export, never formulas."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from hub.clock import today
from hub.enrolment import issue_code
from shared import protocol
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.hub.console_support import Desk
from tests.nodesim import NodeSim

EVIL_NAME = '=HYPERLINK("http://ev.il","a")'
EVIL_CLERK = "@SUM(1+1)*cmd|' /C calc'!A0"
EVIL_VILLAGE = "+1+1"


def _sync_evil_case(hub_app) -> str:
    sim = NodeSim(hub_app.test_client(), issue_code(EVIL_VILLAGE))
    data = capture("DB-01", name=EVIL_NAME)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    events = sim.events(("request.captured", protocol.new_id(), data))
    events[0]["clerk"] = EVIL_CLERK
    sim.send(events)
    return data["receipt_code"]


def _no_formula_cells(wb) -> list[str]:
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    return texts


def test_register_xlsx_writes_applicant_and_clerk_as_text(hub_app) -> None:
    _sync_evil_case(hub_app)
    boss = Desk(hub_app, "boss", "督查", role="supervisor")
    resp = boss.get(f"/console/register.xlsx?month={today().strftime('%Y-%m')}")
    assert resp.status_code == 200
    texts = _no_formula_cells(load_workbook(io.BytesIO(resp.data)))
    assert "'" + EVIL_NAME in texts
    assert "'" + EVIL_CLERK in texts
    assert "'" + EVIL_VILLAGE in texts
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_supervision_exports_write_names_as_text(hub_app) -> None:
    _sync_evil_case(hub_app)
    boss = Desk(hub_app, "boss2", "督查", role="supervisor")
    wb = load_workbook(io.BytesIO(boss.get("/supervision/export.xlsx").data))
    texts = _no_formula_cells(wb)
    assert "'" + EVIL_VILLAGE in texts
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@", "\t", "\r"))]
    resp = boss.get("/supervision/export.csv?by=village")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    cells = [c for row in rows for c in row]
    assert "'" + EVIL_VILLAGE in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
