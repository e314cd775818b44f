"""The audit chain: every staff action and sync appends a link; tampering is named by verify-audit."""

from __future__ import annotations

import json

import pytest

from hub import audit, cases
from hub.db import database
from hub.enrolment import revoke
from hub.models import AuditEntry, Case
from shared import signing
from tests import support
from tests.hub.pages import captured, csrf_of, login_as
from tests.nodesim import NodeSim


def actions() -> list[str]:
    return [e.action for e in AuditEntry.select().order_by(AuditEntry.seq)]


def verify_cli(hub_app, hub_db_url: str) -> "support.subprocess.CompletedProcess":
    """Run `daiban hub verify-audit` as a real process against the test's database."""
    return support.daiban(
        "hub", "--dir", hub_app.config["DATA_DIR"], "verify-audit", env={"DATABASE_URL": hub_db_url}, check=False
    )


def test_staff_actions_and_syncs_are_chained(hub_client, sim: NodeSim) -> None:
    ev = captured(sim, "DB-03")
    sim.send(sim.events(ev))
    code = Case.get_by_id(ev[1]).receipt_code
    cases.act(code, "accept", "wang")
    login_as(hub_client, "supervisor")
    revoke("桃源村", actor="supervisor1")
    assert actions() == ["node.code_issued", "node.enrolled", "sync.batch", "case.accept", "auth.login", "node.revoked"]
    batch = AuditEntry.get(AuditEntry.action == "sync.batch")
    assert batch.detail["first_seq"] == 1
    assert batch.detail["accepted"] == 1
    entries = list(AuditEntry.select().order_by(AuditEntry.seq))
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    assert audit.verify() == (6, None)


def test_refused_actions_leave_an_attempt_and_nothing_else(hub_client, sim: NodeSim) -> None:
    ev = captured(sim, "DB-03")
    sim.send(sim.events(ev))
    code = Case.get_by_id(ev[1]).receipt_code
    with pytest.raises(cases.CaseError):
        cases.act(code, "refuse", "wang", reason="不符合条件")  # no legal basis
    assert Case.get_by_id(ev[1]).state == "received"
    last = AuditEntry.select().order_by(AuditEntry.seq.desc()).get()
    assert (last.action, last.target, last.detail["code"]) == ("case.refused_attempt", code, "reason_required")
    # A forged batch is refused before anything is written: no audit entry either.
    before = AuditEntry.select().count()
    _, raw = sim.batch(sim.events(captured(sim)), key=signing.generate_key())
    status, _ = sim.post(raw)
    assert status == 403
    assert AuditEntry.select().count() == before
    # A login without a CSRF token never reaches the password check, but the attempt is kept.
    assert hub_client.post("/login", data={"username": "nobody", "password": "x"}).status_code == 400
    assert AuditEntry.select().count() == before + 1
    assert actions()[-1] == "csrf.refused"
    token = csrf_of(hub_client.get("/login").get_data(as_text=True))
    assert (
        hub_client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token}).status_code == 401
    )
    assert actions()[-1] == "auth.login_failed"


def test_fork_is_audited(sim: NodeSim) -> None:
    sim.send(sim.events(captured(sim)))
    sim.seq, sim.last_hash = 0, "0" * 64
    _, raw = sim.batch(sim.events(captured(sim)))
    status, resp = sim.post(raw)
    assert status == 409
    assert resp["error"]["code"] == "fork"
    assert actions()[-1] == "sync.fork"


def test_tampered_row_is_named_by_verify_audit(hub_app, hub_db_url: str, sim: NodeSim) -> None:
    for _ in range(3):
        sim.send(sim.events(captured(sim)))
    ok = verify_cli(hub_app, hub_db_url)
    assert ok.returncode == 0
    assert "审计日志完好：共 5 条" in ok.stdout
    # Someone edits the third entry straight in the database, covering their tracks in `detail`.
    third = AuditEntry.get(AuditEntry.seq == 3)
    forged = json.dumps({**third.detail, "accepted": 0}, ensure_ascii=False, sort_keys=True)
    database.execute_sql(f"UPDATE {AuditEntry._meta.table_name} SET detail = {database.param} WHERE seq = 3", (forged,))
    bad = verify_cli(hub_app, hub_db_url)
    assert bad.returncode == 1
    assert "第 3 条" in bad.stderr
    assert "篡改" in bad.stderr
    assert audit.verify()[1].seq == 3  # type: ignore[union-attr]


def test_deleted_and_rehashed_rows_are_caught(hub_app, sim: NodeSim) -> None:
    for _ in range(3):
        sim.send(sim.events(captured(sim)))
    # Re-hashing an edited row on its own still breaks the next link.
    e = AuditEntry.get(AuditEntry.seq == 3)
    e.actor = "someone-else"
    e.hash = audit.entry_hash(e.seq, e.at, e.actor, e.action, e.target, e.detail, e.prev_hash)
    e.save()
    checked, broken = audit.verify()
    assert broken is not None
    assert (checked, broken.seq) == (3, 4)
    assert "前一哈希" in broken.reason
    AuditEntry.delete().where(AuditEntry.seq == 3).execute()
    checked, broken = audit.verify()
    assert broken is not None
    assert broken.seq == 3
    assert "缺失" in broken.reason


def test_audit_page_supervisor_only_and_shows_break(hub_app, sim: NodeSim) -> None:
    staff = hub_app.test_client()
    login_as(staff, "staff")
    assert staff.get("/supervision/audit").status_code == 403
    sup = hub_app.test_client()
    login_as(sup, "supervisor")
    page = sup.get("/supervision/audit").get_data(as_text=True)
    assert "哈希链完整" in page
    assert "登录" in page
    AuditEntry.update(target="改过").where(AuditEntry.seq == 1).execute()
    page = sup.get("/supervision/audit").get_data(as_text=True)
    assert "哈希链在第 1 条断开" in page


def test_duty_changes_are_audited(hub_app) -> None:
    client = hub_app.test_client()
    login_as(client, "staff")
    page = client.get("/console/staff").get_data(as_text=True)
    resp = client.post("/console/staff", data={"csrf_token": csrf_of(page), "username": "staff1", "on_duty": "0"})
    assert resp.status_code == 302
    last = AuditEntry.select().order_by(AuditEntry.seq.desc()).get()
    assert (last.action, last.actor, last.target, last.detail["on_duty"]) == ("staff.duty", "staff1", "staff1", False)
    assert audit.verify()[1] is None


def test_an_entry_is_part_of_the_transaction_it_is_recorded_in(hub_app, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a transaction (every synced batch) no savepoint of its own: it stands or falls with it."""
    before = actions()
    statements: list[str] = []
    execute = database.obj.execute_sql

    def watched(sql: str, *args: object, **kwargs: object) -> object:
        statements.append(sql)
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", watched)
    with pytest.raises(RuntimeError), database.atomic():
        audit.record("n1", "sync.batch", "桃源村", {"accepted": 1})
        raise RuntimeError("the batch failed after its entry")
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    assert actions() == before
    audit.record("n1", "sync.batch", "桃源村")  # outside any transaction: a transaction of its own
    assert actions() == [*before, "sync.batch"]
    assert audit.verify()[1] is None
