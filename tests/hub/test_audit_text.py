"""The audit log reads as Chinese sentences; a case's history is in time order, with display names."""

from __future__ import annotations

from datetime import datetime

import pytest

from hub import clock
from hub.audit_text import sentences
from hub.audit import recent
from hub.models import Case
from shared import protocol
from shared.receipt_codes import format_code, new_code
from tests.factories import capture
from tests.hub.console_support import Desk
from tests.nodesim import NodeSim


@pytest.fixture(autouse=True)
def _unpin():
    yield
    clock.pinned = None


def _capture_at(sim: NodeSim, at: str, missing: list[str]) -> str:
    data = capture("JF-01", missing=missing)
    data["receipt_code"] = new_code(sim.prefix)
    [ev] = sim.events(("request.captured", protocol.new_id(), data))
    ev["at"] = at
    sim.send([ev])
    return data["receipt_code"]


def test_the_audit_page_reads_as_sentences_with_names_and_material_names(hub_app, sim) -> None:
    wang = Desk(hub_app, "wang", "王芳", windows=["W09"])
    boss = Desk(hub_app, "boss", "督查组长", role="supervisor")
    code = _capture_at(sim, protocol.iso(protocol.utcnow()), [])
    wang.act(code, "ask_materials", missing=["M-DESIGN"])
    wang.act(code, "ask_materials", missing=["M-ID"])  # refused: 一次告知
    html = boss.get("/supervision/audit").get_data(as_text=True)
    shown = format_code(code)
    assert f"王芳对回执码 {shown} 的申请一次性告知补正，状态为“待补正”，缺：建房设计图。" in html
    assert f"王芳试图对回执码 {shown} 的申请一次性告知补正，被拒绝（已一次性告知过），未做任何更改。" in html
    assert "桃源村代办点上传第 1–1 条记录，中心接收 1 条。" in html
    assert "王芳登录" in html
    assert "state=" not in html
    assert "missing=" not in html
    assert "M-DESIGN" not in html
    assert ">wang<" not in html


def test_unknown_actions_and_keys_still_read_in_chinese(hub_app) -> None:
    from hub import audit

    audit.record("system", "calendar.edit", "2026-10-01", {"kind": "holiday", "reason": "国庆"})
    [(entry, text)] = sentences(recent(1))
    assert text == "系统修改节假日：2026-10-01；类别：holiday；理由：国庆。"


def test_case_history_is_in_time_order_across_the_village_and_the_hub(hub_app, sim) -> None:
    wang = Desk(hub_app, "wang", "王芳", windows=["W09"])
    clock.pinned = datetime(2026, 11, 30, 2, 0, 30)  # the hub receives it half a minute after capture
    code = _capture_at(sim, "2026-11-30T02:00:00Z", ["M-NEIGHBOURS"])
    request_id = Case.get(Case.receipt_code == code).request_id
    [supplement] = sim.events(("request.supplemented", request_id, {"materials": ["M-NEIGHBOURS"]}))
    supplement["at"] = "2026-11-30T02:20:00Z"  # brought at the village; it reaches the hub ten minutes later
    clock.pinned = datetime(2026, 11, 30, 2, 30)
    sim.send([supplement])
    html = wang.get(f"/console/case/{code}").get_data(as_text=True)
    history = html[html.index("办理记录") :]
    order = [history.index(t) for t in ("2026-11-30 10:00", "2026-11-30 10:20", "2026-11-30 10:30")]
    assert order == sorted(order)
    assert (
        history.index("收件")
        < history.index("接收并分派")
        < history.index("补正材料送达")
        < history.index("补正材料到达")
    )
    assert "系统" in history  # automatic steps are 系统
    assert "李文书" in history  # the clerk by name
    assert "本页时间均为北京时间" in html
