"""Routing: fewest open cases among those on duty, fair ties, fallbacks, reassignment."""

from __future__ import annotations

import pytest

from hub import routing
from hub.cases import CaseError, act, reassign
from hub.models import Assignment, AuditEntry, Case, HubEvent, Staff
from hub.staff import create_user
from shared import states
from tests.hub.console_support import hub_cli, Desk, new_case, snapshot


def staff(username: str, windows: list[str], role: str = "staff", on_duty: bool = True) -> Staff:
    user = create_user(username, username.upper(), "secret-pass", role, windows)
    if not on_duty:
        Staff.update(on_duty=False).where(Staff.id == user.id).execute()
    return user


def assignee(code: str) -> str | None:
    return Case.get(Case.receipt_code == code).assignee


def test_fewest_open_cases_then_least_recently_assigned_then_username(sim) -> None:
    for name in ("chen", "bai", "an"):
        staff(name, ["W09"])
    first = [assignee(new_case(sim, "JF-01")) for _ in range(3)]
    # Nobody has cases yet and nobody was ever assigned: username order.
    assert first == ["an", "bai", "chen"]
    # All have one open case; "an" was assigned longest ago.
    assert assignee(new_case(sim, "JF-02")) == "an"
    # Closing one of bai's cases makes bai the least loaded.
    bai_case = Case.get(Case.assignee == "bai")
    act(bai_case.receipt_code, "refuse", "bai", reason="不符合条件", legal_basis="《土地管理法》第六十二条")
    assert assignee(new_case(sim, "JF-03")) == "bai"


def test_one_batch_of_cases_is_spread_as_if_they_came_one_by_one(sim) -> None:
    from tests.hub.test_sync_api import captured

    staff("an", ["W09"])
    staff("bai", ["W09"])
    staff("chen", ["W05"])
    evs = [captured(sim, item) for item in ("JF-01", "JF-02", "DB-01", "JF-03", "JF-01")]
    sim.send(sim.events(*evs))
    got = [Case.get_by_id(ev[1]).assignee for ev in evs]
    assert got == ["an", "bai", "chen", "an", "bai"]
    assert Assignment.select().where(Assignment.request_id.in_([ev[1] for ev in evs])).count() == 5


def test_one_batch_counts_a_person_covering_two_windows_with_the_cases_of_both(sim) -> None:
    from tests.hub.test_sync_api import captured

    staff("both", ["W05", "W09"])
    staff("an", ["W09"])
    evs = [captured(sim, item) for item in ("DB-01", "DB-01", "JF-01", "JF-01")]
    sim.send(sim.events(*evs))
    # One by one: "both" holds two open cases when the 国土 cases come, so "an" takes both of those.
    assert [Case.get_by_id(ev[1]).assignee for ev in evs] == ["both", "both", "an", "an"]


def test_on_duty_preferred_then_away_then_unassigned(sim) -> None:
    staff("away1", ["W05"], on_duty=False)
    staff("duty1", ["W05"])
    staff("boss", ["W05", "W09"], role="supervisor")
    assert {assignee(new_case(sim, "DB-01")) for _ in range(3)} == {"duty1"}
    # Nobody on duty on 国土与城建: away staff are skipped; the B角 the away colleague named takes it (AB角).
    away2 = staff("away2", ["W09"], on_duty=False)
    assert assignee(new_case(sim, "JF-01")) is None
    Staff.update(backup="duty1").where(Staff.id == away2.id).execute()
    assert assignee(new_case(sim, "JF-01")) == "duty1"
    # Nobody covers 计划生育 at all: unassigned, and shown red to the supervisor.
    orphan = new_case(sim, "FP-02")
    assert assignee(orphan) is None
    html = Desk(sim.client.application, "super", "督查", role="supervisor").get("/console/").get_data(as_text=True)
    assert "件无人负责" in html
    assert f'orphan" data-code="{orphan}"' in html
    # As soon as someone covers it and is on duty, the orphan is handed out and recorded.
    staff("fp", ["W10"])
    assert routing.assign_unassigned("W10") == 1
    assert assignee(orphan) == "fp"
    assert (
        HubEvent.select()
        .where(HubEvent.request_id == Case.get(Case.receipt_code == orphan).request_id)
        .order_by(HubEvent.cseq.desc())
        .get()
        .body["action"]
        == "reassigned"
    )


def test_every_open_case_has_exactly_one_responsible_person_when_staff_exist(sim) -> None:
    staff("a", ["W05", "W09", "W10"])
    staff("b", ["W09"], on_duty=False)
    codes = [new_case(sim, item) for item in ("DB-01", "JF-01", "FP-02", "DB-02", "JF-02")]
    open_cases = Case.select().where(Case.state.not_in(list(states.TERMINAL)))
    assert len(codes) == open_cases.count()
    assert all(c.assignee for c in open_cases)
    # When an account is closed, its open cases go to a colleague on duty on the window.
    Staff.update(on_duty=True).where(Staff.username == "b").execute()
    Staff.update(active=False).where(Staff.username == "a").execute()
    assert routing.assign_unassigned() == 2  # the two 国土与城建 cases go to b; nobody else covers 民政/计生
    assert {c.assignee for c in Case.select().where(Case.window == "W09")} == {"b"}


def test_coming_on_duty_through_the_page_picks_up_orphans(hub_app, sim) -> None:
    orphan = new_case(sim, "DB-01")
    assert assignee(orphan) is None
    desk = Desk(hub_app, "min", "民政员", windows=["W05"])
    Staff.update(on_duty=False).where(Staff.username == "min").execute()
    resp = desk.post("/console/staff", {"username": "min", "on_duty": "1"})
    assert resp.status_code == 302
    assert assignee(orphan) == "min"


def test_supervisor_reassigns_and_it_is_recorded_and_shown(hub_app, sim) -> None:
    staff("a", ["W09"])
    staff("b", ["W09"])
    staff("c", ["W05"])
    boss = Desk(hub_app, "boss", "督查", role="supervisor")
    code = new_case(sim, "JF-01")
    assert assignee(code) == "a"
    resp = boss.post(f"/console/case/{code}/reassign", {"assignee": "b", "reason": "a 外出培训"})
    assert resp.status_code == 302
    assert assignee(code) == "b"
    ev = HubEvent.select().order_by(HubEvent.cseq.desc()).get()
    assert ev.body["action"] == "reassigned"
    assert ev.body["previous_assignee"] == "a"
    assert ev.actor == "boss"
    rid = Case.get(Case.receipt_code == code).request_id
    history = [a.by for a in Assignment.select().where(Assignment.request_id == rid).order_by(Assignment.id)]
    assert history == ["system", "boss"]  # the automatic assignment, then the reassignment
    html = boss.get(f"/console/case/{code}").get_data(as_text=True)
    assert "改派承办人" in html
    assert "a 外出培训" in html
    # Someone not on the window cannot be given the case; window staff cannot reassign.
    before = snapshot()
    resp = boss.post(f"/console/case/{code}/reassign", {"assignee": "c"})
    assert resp.status_code == 403
    assert "不负责国土与城建窗口" in resp.get_data(as_text=True)
    worker = Desk(hub_app, "w", "窗口", windows=["W09"])
    assert worker.post(f"/console/case/{code}/reassign", {"assignee": "a"}).status_code == 403
    assert snapshot()[:3] == before[:3]
    # A closed case keeps the person who closed it.
    act(code, "accept", "b")
    act(code, "approve", "b")
    before = snapshot()
    with pytest.raises(CaseError) as err:
        reassign(code, "a", "boss")
    assert err.value.code == "terminal_state"
    assert snapshot() == before


def test_cli_duty_reassign_and_add_user_pick_up_orphans(hub_app, sim) -> None:
    orphan = new_case(sim, "DB-01")
    assert assignee(orphan) is None
    out = hub_cli(hub_app, "add-user", "min", "--name", "民政员", "--windows", "W05", "--password", "secret-pass")
    assert out.exit_code == 0
    assert "接手无人负责的 1 件" in out.output
    assert assignee(orphan) == "min"
    assert hub_cli(hub_app, "duty", "min", "--away").exit_code == 0
    assert Staff.get(Staff.username == "min").on_duty is False
    # The CLI records the change as the console does (it used to skip the audit record).
    last = AuditEntry.select().where(AuditEntry.action == "staff.duty").order_by(AuditEntry.id.desc()).get()
    assert (last.actor, last.target, last.detail["on_duty"]) == ("cli", "min", False)
    assert hub_cli(hub_app, "duty", "nobody", "--on").exit_code != 0
    hub_cli(hub_app, "add-user", "min2", "--name", "民政二", "--windows", "W05", "--password", "secret-pass")
    out = hub_cli(hub_app, "reassign", orphan, "min2", "--reason", "休假")
    assert out.exit_code == 0
    assert assignee(orphan) == "min2"
    before = snapshot()
    out = hub_cli(hub_app, "reassign", orphan, "min2")
    assert out.exit_code == 2
    assert "已由民政二承办" in out.output
    assert snapshot() == before
