"""AB角: marking someone away hands their open cases to their B角 (or the supervisor's pick); routing skips them."""

from __future__ import annotations

import pytest

from hub import absence, cases
from hub.models import Assignment, AuditEntry, Case, HubEvent, Staff
from hub.staff import create_user
from tests.hub.console_support import hub_cli, Desk, new_case, snapshot


def assignee(code: str) -> str | None:
    return Case.get(Case.receipt_code == code).assignee


def test_away_hands_every_open_case_to_the_named_backup_recorded_and_told_to_the_village(hub_app, sim) -> None:
    wang = Desk(hub_app, "wang", "王芳", windows=["W09"])
    create_user("li", "李强", "secret-pass", "staff", ["W05"])  # another window: AB角 crosses windows
    first, second = new_case(sim, "JF-01"), new_case(sim, "JF-01")
    closed = new_case(sim, "JF-01")
    cases.act(closed, "refuse", "wang", reason="不属于本中心受理范围", legal_basis="行政许可法第三十二条")
    assert {assignee(first), assignee(second), assignee(closed)} == {"wang"}
    assert wang.post("/console/staff", {"op": "backup", "username": "wang", "backup": "li"}).status_code == 302
    resp = wang.post("/console/staff", {"username": "wang", "on_duty": "0"})
    assert resp.status_code == 302
    assert (assignee(first), assignee(second), assignee(closed)) == ("li", "li", "wang")  # a closed case stays
    assert Staff.get(Staff.username == "wang").on_duty is False
    handed = Assignment.select().where((Assignment.username == "li") & (Assignment.previous == "wang"))
    assert handed.count() == 2
    assert all("AB角：王芳离岗，由B角李强承办" == a.reason for a in handed)
    told = [e for e in HubEvent.select() if e.body.get("action") == "reassigned"]
    assert len(told) == 2
    assert all(e.body["actor_name"] == "王芳" and e.body["assignee"] == "li" for e in told)
    entry = AuditEntry.select().where(AuditEntry.action == "staff.duty").order_by(AuditEntry.seq.desc()).get()
    assert entry.detail == {"on_duty": False, "backup": "li", "handed": 2, "kept": 0}
    # The backup, though on another window, sees and may act on the cases handed to them.
    li = Desk(hub_app, "li", create=False)
    assert first in li.get("/console/").get_data(as_text=True)
    assert li.get(f"/console/case/{first}").status_code == 200
    assert li.act(first, "accept").status_code == 302
    assert Case.get(Case.receipt_code == first).state == "accepted"
    page = wang.get("/console/staff").get_data(as_text=True)
    assert "2 件在办申请已交B角李强承办" in page


def test_routing_skips_staff_away_and_gives_new_cases_to_their_backup(hub_app, sim) -> None:
    create_user("wang", "王芳", "secret-pass", "staff", ["W09"])
    create_user("li", "李强", "secret-pass", "staff", ["W05"])
    boss = Staff.get(Staff.username == "wang")
    absence.set_backup("wang", "li", boss)
    absence.set_duty("wang", False, boss)
    assert assignee(new_case(sim, "JF-01")) == "li"
    # Back on duty: new work is the window's own again.
    absence.set_duty("wang", True, boss)
    assert assignee(new_case(sim, "JF-01")) == "wang"


def test_the_supervisor_picks_who_takes_over_when_none_is_named(hub_app, sim) -> None:
    create_user("wang", "王芳", "secret-pass", "staff", ["W09"])
    create_user("zhao", "赵敏", "secret-pass", "staff", ["W09"])
    Staff.update(on_duty=False).where(Staff.username == "zhao").execute()
    code = new_case(sim, "JF-01")
    Staff.update(on_duty=True).where(Staff.username == "zhao").execute()
    boss = Desk(hub_app, "boss", "督查", role="supervisor")
    assert boss.post("/console/staff", {"username": "wang", "on_duty": "0", "backup": "zhao"}).status_code == 302
    assert assignee(code) == "zhao"
    assert Staff.get(Staff.username == "wang").backup is None  # a pick for this hand-over, not a new B角


@pytest.mark.parametrize(
    "form,status,words",
    [
        ({"username": "wang", "on_duty": "0", "backup": "wang"}, 409, "不能指定自己为B角"),
        ({"username": "wang", "on_duty": "0", "backup": "nobody"}, 404, "没有这个在用的工作人员"),
        ({"username": "wang", "on_duty": "0", "backup": "zhao"}, 409, "B角赵敏也处于离岗状态"),
        ({"username": "li", "on_duty": "0"}, 403, "只能修改自己"),
        ({"op": "backup", "username": "li", "backup": "zhao"}, 403, "只能修改自己"),
    ],
)
def test_bad_hand_overs_say_why_change_nothing_and_are_audited(hub_app, sim, form, status, words) -> None:
    boss = Desk(hub_app, "boss", "督查", role="supervisor")
    wang = Desk(hub_app, "wang", "王芳", windows=["W09"])
    create_user("li", "李强", "secret-pass", "staff", ["W09"])
    create_user("zhao", "赵敏", "secret-pass", "staff", ["W09"])
    Staff.update(on_duty=False).where(Staff.username == "zhao").execute()
    new_case(sim, "JF-01")
    desk = boss if form.get("backup") in ("wang", "nobody", "zhao") and form.get("op") != "backup" else wang
    before = snapshot(), [s.backup for s in Staff.select().order_by(Staff.username)]
    resp = desk.post("/console/staff", form)
    assert resp.status_code == status
    assert words in resp.get_data(as_text=True)
    assert (snapshot(), [s.backup for s in Staff.select().order_by(Staff.username)]) == before
    assert AuditEntry.select().where(AuditEntry.action == "staff.refused_attempt").count() == 1


def test_cli_duty_away_hands_over_to_the_backup(hub_app, sim) -> None:
    create_user("wang", "王芳", "secret-pass", "staff", ["W09"])
    create_user("li", "李强", "secret-pass", "staff", ["W09"])
    Staff.update(on_duty=False).where(Staff.username == "li").execute()
    code = new_case(sim, "JF-01")
    Staff.update(on_duty=True).where(Staff.username == "li").execute()
    out = hub_cli(hub_app, "duty", "wang", "--away", "--backup", "li")
    assert out.exit_code == 0
    assert "1 件在办申请已交B角李强承办" in out.output
    assert assignee(code) == "li"
