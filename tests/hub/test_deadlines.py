"""Working-day deadlines at the hub across National Day 2025, with a 补正 pause in between.

2025: Oct 1–8 off; Sunday Sep 28 and Saturday Oct 11 are make-up working days.
DB-03 临时救助 has a limit of 10 working days.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hub import cases, deadlines
from hub.holidays import change_calendar
from hub.models import Case, CaseAlert, HubEvent
from hub.sweep import run_sweep
from tests.hub.pages import captured, hub_time, supplemented
from tests.nodesim import NodeSim


def at(day: str, hour: int = 2) -> datetime:
    """A naive UTC time that is 10:00 in China on that day."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00")


def receive(sim: NodeSim, day: str, item: str = "DB-03") -> Case:
    with hub_time(at(day)):
        ev = captured(sim, item)
        sim.send(sim.events(ev))
    return Case.get_by_id(ev[1])


def test_due_date_skips_national_day_and_counts_make_up_days(sim: NodeSim) -> None:
    case = receive(sim, "2025-09-23")
    assert case.received_on == date(2025, 9, 23)
    # 24 25 26 28(Sun, make-up) 29 30 | Oct 1–8 off | 9 10 11(Sat, make-up) 13 → the 10th working day
    assert case.deadline == date(2025, 10, 13)


def test_pause_during_holiday_moves_due_date_by_paused_working_days(sim: NodeSim) -> None:
    case = receive(sim, "2025-09-23")
    with hub_time(at("2025-09-24")):
        cases.act(case.receipt_code, "accept", "wang")
    with hub_time(at("2025-09-26")):
        cases.act(case.receipt_code, "ask_materials", "wang", missing=["M-APPLICATION"])
    paused = Case.get_by_id(case.request_id)
    assert paused.state == "needs_materials"
    assert paused.paused_since == date(2025, 9, 26)
    with hub_time(at("2025-10-10")):
        sim.send(sim.events(supplemented(case.request_id, ["M-APPLICATION"])))
    after = Case.get_by_id(case.request_id)
    # Paused working days in (Sep 26, Oct 10]: Sep 28, 29, 30, Oct 9, 10 = 5; the holiday itself costs nothing.
    assert after.paused_days == 5
    assert after.paused_since is None
    assert after.state == "accepted"
    assert after.materials_missing == []
    # 10 + 5 working days after Sep 23: … Oct 13 (10th), 14, 15, 16, 17, 20 (15th).
    assert after.deadline == date(2025, 10, 20)


def test_sweep_yellow_at_80_percent_red_when_overdue_each_recorded_once(sim: NodeSim) -> None:
    case = receive(sim, "2025-09-23")
    with hub_time(at("2025-09-24")):
        cases.act(case.receipt_code, "accept", "wang")
    with hub_time(at("2025-09-26")):
        cases.act(case.receipt_code, "ask_materials", "wang", missing=["M-APPLICATION"])
    # While paused the clock stands still: deep into the pause the case stays green.
    assert run_sweep(date(2025, 10, 9))["green"] == 1
    with hub_time(at("2025-10-10")):
        sim.send(sim.events(supplemented(case.request_id, ["M-APPLICATION"])))
    # 10 working days allowed; used = working days since receipt − 5 paused. 8 used (80 %) on Oct 16.
    assert run_sweep(date(2025, 10, 15))["yellow"] == 0
    first = run_sweep(date(2025, 10, 16))
    assert (first["yellow"], first["turned_yellow"]) == (1, 1)
    assert Case.get_by_id(case.request_id).urgency == "yellow"
    again = run_sweep(date(2025, 10, 17))
    assert (again["yellow"], again["turned_yellow"]) == (1, 0)
    assert run_sweep(date(2025, 10, 20))["yellow"] == 1  # the due day itself is yellow, not red
    red = run_sweep(date(2025, 10, 21))
    assert (red["red"], red["turned_red"]) == (1, 1)
    assert run_sweep(date(2025, 10, 22))["turned_red"] == 0
    alerts = [(a.level, a.on_day) for a in CaseAlert.select().order_by(CaseAlert.id)]
    assert alerts == [("yellow", date(2025, 10, 16)), ("red", date(2025, 10, 21))]
    assert Case.get_by_id(case.request_id).urgency == "red"


def test_closed_cases_are_not_swept(sim: NodeSim) -> None:
    case = receive(sim, "2025-09-23")
    with hub_time(at("2025-09-24")):
        cases.act(
            case.receipt_code, "refuse", "wang", reason="不符合条件", legal_basis="《社会救助暂行办法》第四十七条"
        )
    counts = run_sweep(date(2025, 12, 1))
    assert counts["checked"] == 0
    assert CaseAlert.select().count() == 0


def test_same_day_item_is_yellow_on_its_day_and_red_after(sim: NodeSim) -> None:
    case = receive(sim, "2025-09-30", item="FP-01")
    assert case.deadline == date(2025, 9, 30)
    assert run_sweep(date(2025, 9, 30))["yellow"] == 1
    # The next working day is Oct 9, but Oct 1 is already past the due date.
    assert run_sweep(date(2025, 10, 1))["red"] == 1


def test_admin_holidays_for_years_the_package_does_not_know(hub_app) -> None:
    cal = deadlines.calendar()
    assert cal.add_workdays(date(2027, 2, 5), 1) == date(2027, 2, 8)  # plain Mon–Fri guess for 2027
    for d in ("2027-02-08", "2027-02-09", "2027-02-10"):
        change_calendar(d, "holiday", "add", "admin")
    change_calendar("2027-02-06", "workday", "add", "admin")  # a make-up Saturday
    cal = deadlines.calendar()
    assert cal.add_workdays(date(2027, 2, 5), 1) == date(2027, 2, 6)
    assert cal.add_workdays(date(2027, 2, 5), 2) == date(2027, 2, 11)


def test_bad_calendar_edits_refused_and_nothing_stored(hub_app) -> None:
    for day, kind, op, message in [
        ("2027-13-01", "holiday", "add", "日期格式"),
        ("", "holiday", "add", "日期格式"),
        ("1999-01-01", "holiday", "add", "年份"),
        ("2027-02-08", "weekend", "add", "请求无效"),
        ("2027-02-08", "holiday", "remove", "不在"),
    ]:
        with pytest.raises(ValueError, match=message):
            change_calendar(day, kind, op, "admin")
    assert deadlines.calendar().extra_holidays == frozenset()


def test_day_cannot_be_both_holiday_and_workday(hub_app) -> None:
    change_calendar("2027-02-08", "holiday", "add", "admin")
    with pytest.raises(ValueError, match="请先删除"):
        change_calendar("2027-02-08", "workday", "add", "admin")
    cal = deadlines.calendar()
    assert cal.extra_workdays == frozenset()
    assert cal.extra_holidays == {date(2027, 2, 8)}


def test_new_holiday_moves_running_cases_and_tells_the_village(sim: NodeSim) -> None:
    # 2027 is beyond the package: Mon–Fri. JF-03 (10 working days) received Mon 2027-02-01 → due Mon Feb 15.
    early = receive(sim, "2027-02-01", item="JF-03")
    assert early.deadline == date(2027, 2, 15)
    late = receive(sim, "2027-02-16", item="JF-03")  # received after the new holidays: not touched
    paused = receive(sim, "2027-02-01", item="JF-03")
    with hub_time(at("2027-02-02")):
        cases.act(early.receipt_code, "accept", "li", note="请按时到窗口领取")
        cases.act(paused.receipt_code, "accept", "li")
        cases.act(paused.receipt_code, "ask_materials", "li", missing=["M-PHOTOS"])
    cursor = HubEvent.select().where(HubEvent.node == sim.node_id).count()
    with hub_time(at("2027-02-03")):
        for d in ("2027-02-08", "2027-02-09", "2027-02-10"):
            change_calendar(d, "holiday", "add", "admin")
        message = change_calendar("2027-02-06", "workday", "add", "admin")  # Saturday: one back
    assert "到期日已相应调整" in message
    assert Case.get_by_id(early.request_id).deadline == date(2027, 2, 17)  # +3 holidays −1 make-up day
    assert Case.get_by_id(late.request_id).deadline == late.deadline
    assert Case.get_by_id(paused.request_id).deadline == paused.deadline  # recounted when the clock restarts
    updates = [u for u in sim.poll(cursor=cursor)["updates"] if u["request_id"] == early.request_id]
    assert updates[-1]["deadline"] == "2027-02-17"
    assert updates[-1]["action"] == "deadline_moved"
    assert updates[-1]["note"] == "请按时到窗口领取"
    assert updates[-1]["state"] == "accepted"
    with hub_time(at("2027-02-04")):
        change_calendar("2027-02-10", "holiday", "remove", "admin")
    assert Case.get_by_id(early.request_id).deadline == date(2027, 2, 16)
