"""窗口收件 and the daily tools around it: counter capture, search, attachments, 两头受理, number bounds."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hub import attachments
from hub.audit import AuditEntry
from hub.enrolment import get_or_create_village
from hub.models import Attachment, Case, HubEvent
from shared.receipt_codes import COUNTER_PREFIX, format_code, is_valid
from tests.factories import id_number
from tests.hub.console_support import Desk, new_case, snapshot


@pytest.fixture
def zhou(hub_app) -> Desk:
    """Window staff of 计划生育 and 民政."""
    return Desk(hub_app, "zhou", "周敏", windows=["W10", "W05"])


@pytest.fixture
def village(hub_app) -> int:
    return int(get_or_create_village("杏花村").id)


def form(item: str, village_id: int, **over: Any) -> dict[str, Any]:
    """The counter's catalogue form as a browser posts it, complete unless told otherwise."""
    base: dict[str, Any] = {
        "applicant.name": "刘梅",
        "applicant.id_number": id_number(),
        "applicant.phone": "139 0013 9000",
        "applicant.address": "杏花村二组5号",
        "applicant.group": "二组",
        "village": str(village_id),
    }
    if item == "FP-01":
        base.update(
            {
                "fields.spouse_name": "陈刚",
                "fields.spouse_id_number": id_number(),
                "fields.child_order": "1",
                "fields.expected_birth_date": "2026-05-01",
                "brought": ["M-ID", "M-HUKOU", "M-MARRIAGE"],
            }
        )
    elif item == "DB-01":
        base.update(
            {
                "fields.household_size": "4",
                "fields.monthly_income": "1200.50",
                "fields.reason": "因病致贫",
                "brought": ["M-APPLICATION", "M-ID", "M-HUKOU", "M-INCOME", "M-CHECK-AUTH"],
            }
        )
    elif item == "FP-02":
        base.update(
            {
                "fields.spouse_name": "陈刚",
                "fields.children_count": "2",
                "fields.youngest_child_birth_date": "2010-03-01",
                "brought": ["M-APPLICATION", "M-ID", "M-HUKOU", "M-CHILD-PROOF", "M-VILLAGE-OPINION"],
            }
        )
    base.update(over)
    return base


def receive(desk: Desk, item: str, data: dict[str, Any]):
    return desk.post(f"/console/counter/{item}", data, page=f"/console/counter/{item}")


def only_case() -> Case:
    return Case.get(Case.source == "counter")


def test_walk_in_is_received_with_counter_prefix_first_contact_and_receipt(zhou, village) -> None:
    resp = receive(zhou, "DB-01", form("DB-01", village))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    case = only_case()
    assert case.receipt_code.startswith(COUNTER_PREFIX)
    assert is_valid(case.receipt_code)
    assert (case.node_id, case.village.name, case.received_by, case.state) == (None, "杏花村", "zhou", "received")
    assert case.phone == "13900139000"
    assert case.deadline is not None
    assert case.assignee == "zhou"
    page = zhou.get(resp.headers["Location"]).get_data(as_text=True)
    assert "周敏（窗口收件）" in page
    assert 'id="received-box"' in page
    receipt = zhou.get(f"/console/case/{case.receipt_code}/receipt").get_data(as_text=True)
    assert format_code(case.receipt_code) in receipt
    assert "<svg" in receipt
    assert f"/status?code={case.receipt_code}" in receipt
    assert "乡镇政务服务中心窗口" in receipt
    # The QR's page answers the villager like for any case.
    public = zhou.client.get("/status", query_string={"code": format_code(case.receipt_code), "tail": "9000"})
    assert public.status_code == 200
    assert "刘*" in public.get_data(as_text=True)
    # In the queue like any case, marked as taken at the counter.
    queue = zhou.get("/console/").get_data(as_text=True)
    assert case.receipt_code in queue
    assert "窗口收件" in queue


def test_missing_materials_print_the_one_time_notice_and_stop_the_clock(zhou, village) -> None:
    data = form("DB-01", village, brought=["M-APPLICATION", "M-ID", "M-HUKOU"])
    assert receive(zhou, "DB-01", data).status_code == 302
    case = only_case()
    assert case.state == "needs_materials"
    assert case.deadline is None
    assert case.materials_asks == 1
    assert set(case.materials_missing) == {"M-INCOME", "M-CHECK-AUTH"}
    paper = HubEvent.get(HubEvent.request_id == case.request_id)
    assert paper.node_id is None
    assert paper.body["action"] == "ask_materials"
    html = zhou.get(f"/console/case/{case.receipt_code}/paper/{paper.cseq}").get_data(as_text=True)
    assert "一次性告知单" in html
    assert "家庭收入及财产状况声明" in html
    assert "乡镇政务服务中心窗口" in html
    assert "周敏" in html  # 经办人 and 首问责任人


def test_immediate_item_received_and_completed_in_one_step(zhou, village) -> None:
    resp = receive(zhou, "FP-01", form("FP-01", village, complete_now="1"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    case = only_case()
    assert case.state == "approved"
    assert case.closed_at is not None
    assert case.accepted_on is not None
    actions = [
        e.body["action"]
        for e in HubEvent.select().where(HubEvent.request_id == case.request_id).order_by(HubEvent.cseq)
    ]
    assert actions == ["received", "approve"]
    page = zhou.get(f"/console/case/{case.receipt_code}?received=1").get_data(as_text=True)
    assert "办结通知" in page
    # Counted where the centre counts: the register lists it.
    register = zhou.get("/console/register").get_data(as_text=True)
    assert format_code(case.receipt_code) in register
    assert "窗口收件：周敏" in register
    # The centre's report counts it by source and by the staff member who received it (考核).
    from hub.figures import build_report

    report = build_report(None, None)
    by_source = {f.key: (f.label, f.handled, f.immediate) for f in report.groups["source"]}
    assert by_source["counter"] == ("中心窗口", 1, 1)
    assert {f.key: f.handled for f in report.groups["staff"]}["zhou"] == 1
    # And in the supervisor's figures: received and completed.
    boss = Desk(zhou.client.application, "boss", "赵主任", role="supervisor")
    board = boss.get("/supervision/").get_data(as_text=True)
    assert 'id="fig-handled">1<' in board
    assert 'id="fig-completed">1<' in board


def test_processed_item_cannot_be_completed_on_the_spot(zhou, village) -> None:
    before = snapshot()
    resp = receive(zhou, "DB-01", form("DB-01", village, complete_now="1"))
    assert resp.status_code == 422
    assert "只有即办件可以当场受理并办结" in resp.get_data(as_text=True)
    assert snapshot() == before


def test_invalid_counter_capture_says_what_in_chinese_changes_nothing_and_is_audited(zhou, village) -> None:
    before = snapshot()
    bad = form(
        "DB-01",
        village,
        **{"applicant.id_number": "430102199001011234", "fields.household_size": "9" * 20, "village": "999999"},
    )
    resp = receive(zhou, "DB-01", bad)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "身份证号码校验位不正确" in html
    assert "共同生活家庭成员人数" in html
    assert "请选择申请人所在的村" in html
    assert "未保存任何内容" in html
    assert snapshot() == before
    entry = AuditEntry.select().where(AuditEntry.action == "counter.refused").get()
    assert "id_check_digit" in entry.detail["codes"]
    assert "430102" not in str(entry.detail)


def test_duplicate_application_refused_at_counter_and_flagged_from_village(sim, zhou, village) -> None:
    data = form("DB-01", village)
    assert receive(zhou, "DB-01", data).status_code == 302
    first = only_case()
    before = snapshot()
    again = receive(zhou, "DB-01", {**data, "applicant.name": "刘梅"})
    assert again.status_code == 422
    assert f"已有一件“农村最低生活保障申请”正在办理（回执码 {format_code(first.receipt_code)}）" in again.get_data(
        as_text=True
    )
    assert snapshot() == before
    assert AuditEntry.select().where(AuditEntry.action == "counter.refused").count() == 1
    # Another item for the same person is not a duplicate.
    assert (
        receive(
            zhou, "FP-02", form("FP-02", village, **{"applicant.id_number": data["applicant.id_number"]})
        ).status_code
        == 302
    )
    # The same person at their village point: kept (the receipt is printed) but flagged to window and clerk.
    from tests.factories import capture
    from shared import protocol
    from shared.receipt_codes import new_code

    captured = capture("DB-01")
    captured["applicant"]["id_number"] = data["applicant.id_number"]
    captured["receipt_code"] = new_code(sim.prefix)
    answer = sim.send(sim.events(("request.captured", protocol.new_id(), captured)))
    flagged = Case.get(Case.receipt_code == captured["receipt_code"])
    assert flagged.duplicate_of == first.receipt_code
    update = [u for u in answer["updates"] if u.get("request_id") == flagged.request_id][-1]
    assert update["duplicate_of"] == first.receipt_code
    assert "同一事项不能重复申请" in update["note"]
    page = zhou.get(f"/console/case/{flagged.receipt_code}").get_data(as_text=True)
    assert 'id="duplicate-flag"' in page
    assert format_code(first.receipt_code) in page
    assert "疑似重复申请" in zhou.get("/console/").get_data(as_text=True)
    assert format_code(flagged.receipt_code) in zhou.get(f"/console/case/{first.receipt_code}").get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action == "case.duplicate_flagged").count() == 1


def test_a_closed_request_is_no_duplicate(zhou, village) -> None:
    data = form("FP-01", village, complete_now="1")
    assert receive(zhou, "FP-01", data).status_code == 302
    assert receive(zhou, "FP-01", {**data, "complete_now": "0"}).status_code == 302
    assert Case.select().where(Case.source == "counter").count() == 2


@pytest.mark.parametrize(
    "value, ok",
    [("2", True), ("20", True), ("21", False), ("1.5", False), ("12345678901234567890", False), ("-1", False)],
)
def test_children_count_has_sane_bounds(zhou, village, value, ok) -> None:
    resp = receive(zhou, "FP-02", form("FP-02", village, **{"fields.children_count": value}))
    assert (resp.status_code == 302) is ok
    if not ok:
        assert "现有子女数" in resp.get_data(as_text=True)


def test_search_by_code_name_id_tail_phone_within_own_windows(hub_app, sim, zhou, village) -> None:
    data = form("DB-01", village)
    receive(zhou, "DB-01", data)
    mine = only_case()
    other = new_case(sim, "JF-01", name="刘梅")  # 国土与城建: not zhou's window
    code = mine.receipt_code
    for q in (
        code,
        format_code(code).lower(),
        code[:5],
        "刘梅",
        data["applicant.id_number"],
        data["applicant.id_number"][-4:],
        "13900139000",
        "139-0013-9000",
    ):
        html = zhou.get("/console/search", query_string={"q": q}).get_data(as_text=True)
        assert f'data-code="{code}"' in html, q
        assert f'data-code="{other}"' not in html, q
    boss = Desk(hub_app, "boss", "赵主任", role="supervisor")
    html = boss.get("/console/search", query_string={"q": "刘梅"}).get_data(as_text=True)
    assert f'data-code="{code}"' in html
    assert f'data-code="{other}"' in html
    assert zhou.get("/console/search", query_string={"q": "x" * 41}).status_code == 400
    assert zhou.get("/console/search", query_string={"q": "%_%"}).status_code == 400
    assert "找到 0 件" in zhou.get("/console/search", query_string={"q": "王五"}).get_data(as_text=True)


def test_attachment_viewable_by_window_staff_with_state_others_403(hub_app, sim, zhou) -> None:
    code = new_case(sim, "DB-01")
    case = Case.get(Case.receipt_code == code)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    sha = hashlib.sha256(png).hexdigest()
    sim.send(
        sim.events(
            (
                "attachment.added",
                case.request_id,
                {
                    "sha256": sha,
                    "size": len(png),
                    "mime": "image/png",
                    "name": "户口簿.png",
                    "material_code": "M-HUKOU",
                },
            )
        )
    )
    att = Attachment.get(Attachment.case == case.request_id)
    page = zhou.get(f"/console/case/{code}").get_data(as_text=True)
    assert "户口簿.png" in page
    assert "上传中" in page
    assert zhou.get(f"/console/case/{code}/attachment/{att.id}").status_code == 404  # not uploaded yet
    path = attachments.stored_path(hub_app.config["DATA_DIR"], sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    Attachment.update(received=True).where(Attachment.id == att.id).execute()
    page = zhou.get(f"/console/case/{code}").get_data(as_text=True)
    assert "已上传" in page
    resp = zhou.get(f"/console/case/{code}/attachment/{att.id}")
    assert resp.status_code == 200
    assert resp.data == png
    assert resp.mimetype == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert zhou.get(f"/console/case/{code}/attachment/{10**30}").status_code == 404
    assert zhou.get(f"/console/case/{'Z' * 5000}/attachment/{att.id}").status_code == 404
    stranger = Desk(hub_app, "lin", "林业员", windows=["W14"])
    assert stranger.get(f"/console/case/{code}/attachment/{att.id}").status_code == 403
    assert AuditEntry.select().where(AuditEntry.action == "case.attachment_viewed").count() == 1


def test_attachment_claiming_to_be_an_image_but_is_html_is_a_download(hub_app, sim, zhou) -> None:
    code = new_case(sim, "DB-01")
    case = Case.get(Case.receipt_code == code)
    body = b"<script>alert(1)</script>"
    sha = hashlib.sha256(body).hexdigest()
    sim.send(sim.events(("attachment.added", case.request_id, {"sha256": sha, "size": len(body), "mime": "image/png"})))
    path = attachments.stored_path(hub_app.config["DATA_DIR"], sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    Attachment.update(received=True).execute()
    att = Attachment.get()
    resp = zhou.get(f"/console/case/{code}/attachment/{att.id}")
    assert resp.mimetype == "application/octet-stream"
    assert "attachment" in resp.headers["Content-Disposition"]


def test_counter_cases_survive_every_case_action(zhou, village) -> None:
    receive(zhou, "DB-01", form("DB-01", village))
    case = only_case()
    resp = zhou.act(case.receipt_code, "accept")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    resp = zhou.act(case.receipt_code, "deny", reason="家庭收入超过标准", legal_basis="《社会救助暂行办法》第九条")
    assert resp.status_code == 302
    cseqs = [e.cseq for e in HubEvent.select().where(HubEvent.request_id == case.request_id).order_by(HubEvent.cseq)]
    assert cseqs == [1, 2, 3]
    html = zhou.get(resp.headers["Location"]).get_data(as_text=True)
    assert "不予批准" in html
    assert "乡镇政务服务中心窗口" in html


def test_wire_capture_is_cleaned_like_the_node_and_counter_clean_it(sim) -> None:
    from shared import protocol
    from shared.receipt_codes import new_code
    from tests.factories import capture

    data = capture("DB-01")
    ident = data["applicant"]["id_number"]
    data["applicant"].update(id_number=f"  {ident.lower()}  ", phone="+86 138-0013-8000")
    data["fields"]["household_size"] = "9" * 20
    data["receipt_code"] = new_code(sim.prefix)
    answer = sim.send(sim.events(("request.captured", protocol.new_id(), data)))
    assert answer["ack"]["results"][0]["code"] == "number_range"  # the wire refuses what the form refuses
    data["fields"]["household_size"] = "4"
    data["receipt_code"] = new_code(sim.prefix)
    sim.send(sim.events(("request.captured", protocol.new_id(), data)))
    case = Case.get(Case.receipt_code == data["receipt_code"])
    assert (case.id_number, case.phone) == (ident.upper(), "13800138000")


def test_schema_9_upgrades_a_schema_8_database(hub_app) -> None:
    """Counter cases need node_id to accept NULL: an older database gets there, twice harmlessly."""
    from playhouse.migrate import SchemaMigrator, migrate as run_operations

    from hub.db import database
    from hub.schema import SCHEMA_VERSION, SchemaMigration, migrate

    migrator = SchemaMigrator.from_database(database.obj)
    with database.atomic():
        for person_index in _person_indexes():  # (ID number, item), wider since schema 17
            database.execute_sql(f'DROP INDEX "{person_index}"')
        run_operations(
            migrator.drop_column("case", "duplicate_of"),
            migrator.add_not_null("case", "node_id"),
            migrator.add_not_null("hubevent", "node_id"),
        )
        SchemaMigration.delete().where(SchemaMigration.version >= 9).execute()
    assert migrate()[0] == 8
    assert migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
    columns = {(t, c.name): c.null for t in ("case", "hubevent") for c in database.get_columns(t)}
    assert columns[("case", "node_id")]
    assert columns[("hubevent", "node_id")]
    assert ("case", "duplicate_of") in columns
    assert _person_indexes() == ["case_id_number_item_code_state_received_at_receipt_code"]


def _person_indexes() -> list[str]:
    """The case indexes that look a person up by ID number and item."""
    from hub.db import database

    return [i.name for i in database.get_indexes("case") if i.columns[:2] == ["id_number", "item_code"]]
