"""Catalogue admin: each edit is a new version nodes receive on sync; edits orphaning open cases are refused."""

from __future__ import annotations

from typing import Any

from tests.factories import item_of

import pytest

from hub import cases
from hub.catalogue_admin import materials_text
from hub.catalogue_store import current
from hub.models import AuditEntry, Case, CatalogueVersion
from tests.hub.pages import captured, csrf_of, login_as
from tests.nodesim import NodeSim


@pytest.fixture
def admin(hub_app):
    client = hub_app.test_client()
    login_as(client, "admin")
    return client


def item_form(client: Any, item_code: str, **changes: Any) -> dict[str, Any]:
    """The item's edit form as the browser would post it, with some fields changed."""
    page = client.get(f"/admin/catalogue/item/{item_code}").get_data(as_text=True)
    item = current().item(item_code) or {}
    form = {
        "csrf_token": csrf_of(page),
        "base_version": str(current().version),
        "name": item.get("name", ""),
        "window": item.get("window", ""),
        "mode": item.get("mode", ""),
        "time_limit_days": str(item.get("time_limit_days", "")),
        "fee": item.get("fee", ""),
        "procedure": item.get("procedure", ""),
        "legal_basis": "\n".join(item.get("legal_basis", [])),
        "materials": materials_text(item.get("materials", [])),
    }
    if item.get("active", True):
        form["active"] = "on"
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def versions() -> int:
    return CatalogueVersion.select().count()


def test_edit_bumps_version_and_node_receives_it_on_next_sync(admin, sim: NodeSim) -> None:
    assert sim.poll().get("catalogue") is None  # the node is up to date with version 1
    resp = admin.post("/admin/catalogue/item/DB-03", data=item_form(admin, "DB-03", time_limit_days="12"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert current().version == 2
    assert item_of(current(), "DB-03")["time_limit_days"] == 12
    got = sim.poll()["catalogue"]
    assert got["version"] == 2
    assert [i["time_limit_days"] for i in got["items"] if i["code"] == "DB-03"] == [12]
    assert AuditEntry.select().where(AuditEntry.action == "catalogue.edit").count() == 1
    assert "第 2 版" in admin.get("/admin/catalogue").get_data(as_text=True)


def test_new_item_and_new_window(admin) -> None:
    form = item_form(
        admin,
        "new",
        code="DB-04",
        name="特困人员救助供养申请",
        window="W05",
        mode="processed",
        time_limit_days="20",
        fee="免费",
        procedure="申请 → 审核",
        legal_basis="《社会救助暂行办法》",
        materials="M-ID|身份证|是\nM-APPLICATION|申请书|是|本人签名",
    )
    assert admin.post("/admin/catalogue/item/new", data=form).status_code == 302
    item = current().item("DB-04")
    assert item is not None
    assert item["kind"] == "DB"
    assert item["materials"][1]["note"] == "本人签名"
    page = admin.get("/admin/catalogue").get_data(as_text=True)
    resp = admin.post(
        "/admin/catalogue/windows",
        data={"csrf_token": csrf_of(page), "base_version": "2", "new_code": "W15", "new_name": "退役军人服务"},
    )
    assert resp.status_code == 302
    assert current().window_name("W15") == "退役军人服务"
    assert current().version == 3


def open_case(sim: NodeSim, item: str = "DB-03", missing: list[str] | None = None) -> Case:
    ev = captured(sim, item)
    sim.send(sim.events(ev))
    case = Case.get_by_id(ev[1])
    if missing:
        cases.act(case.receipt_code, "ask_materials", "wang", missing=missing)
    return Case.get_by_id(ev[1])


def test_edits_orphaning_open_cases_are_refused_and_nothing_changes(admin, sim: NodeSim) -> None:
    open_case(sim, "DB-03", missing=["M-APPLICATION"])
    before = (versions(), current().to_dict())
    page = admin.get("/admin/catalogue").get_data(as_text=True)
    mats = "\n".join(
        line
        for line in materials_text(current().materials("DB-03")).split("\n")
        if not line.startswith("M-APPLICATION")
    )
    attempts = [
        ("/admin/catalogue/item/DB-03", item_form(admin, "DB-03", active=None), "事项 DB-03 还有 1 件未办结，不能停用"),
        (
            "/admin/catalogue/windows",
            {"csrf_token": csrf_of(page), "base_version": "1", "remove_W05": "on"},
            "窗口 W05 还有 1 件未办结，不能删除",
        ),
        (
            "/admin/catalogue/item/DB-03",
            item_form(admin, "DB-03", materials=mats),
            "材料 M-APPLICATION 仍在事项 DB-03 的 1 件待补正清单中",
        ),
    ]
    for url, form, expected in attempts:
        resp = admin.post(url, data=form)
        assert resp.status_code == 400, expected
        assert expected in resp.get_data(as_text=True), expected
        assert (versions(), current().to_dict()) == before
        assert AuditEntry.select().order_by(AuditEntry.seq.desc()).get().action == "catalogue.refused"


def test_deactivating_an_item_without_open_cases_is_allowed(admin, sim: NodeSim) -> None:
    case = open_case(sim, "DB-03")
    cases.act(case.receipt_code, "refuse", "wang", reason="不符合条件", legal_basis="《社会救助暂行办法》")
    resp = admin.post("/admin/catalogue/item/DB-03", data=item_form(admin, "DB-03", active=None))
    assert resp.status_code == 302
    assert item_of(current(), "DB-03")["active"] is False


BAD_ITEM_EDITS = [
    ({"time_limit_days": "abc"}, "办理时限须为 0 到 999 的整数"),
    ({"time_limit_days": "-3"}, "办理时限须为 0 到 999 的整数"),
    ({"name": "  "}, "缺少名称"),
    ({"window": "W99"}, "所属窗口 “W99” 不存在"),
    ({"legal_basis": ""}, "缺少政策依据"),
    ({"materials": "M-ID"}, "材料第 1 行应写成"),
    ({"materials": "M-ID|身份证|也许"}, "只能填 是 或 否"),
    ({"materials": "M-ID|身份证|是\nM-ID|身份证复印件|否"}, "申请材料 M-ID 重复"),
    ({"mode": "immediate"}, "即办件的办理时限应为 0"),
    ({"base_version": "0"}, "目录已被他人修改"),
    ({"base_version": ""}, "表单缺少目录版本号"),
]


def test_bad_item_edits_refused_with_clear_message(admin) -> None:
    before = (versions(), current().to_dict())
    for changes, message in BAD_ITEM_EDITS:
        resp = admin.post("/admin/catalogue/item/DB-03", data=item_form(admin, "DB-03", **changes))
        assert resp.status_code == 400, changes
        assert message in resp.get_data(as_text=True), changes
        assert (versions(), current().to_dict()) == before


def test_bad_new_item_codes_refused(admin) -> None:
    for code, message in (("db4", "事项编码应为"), ("XX-01", "事项编码须以"), ("DB-01", "已存在")):
        form = item_form(
            admin,
            "new",
            code=code,
            name="某事项",
            window="W05",
            mode="processed",
            time_limit_days="5",
            legal_basis="某办法",
            materials="M-ID|身份证|是",
        )
        resp = admin.post("/admin/catalogue/item/new", data=form)
        assert resp.status_code == 400
        assert message in resp.get_data(as_text=True)
    assert versions() == 1


def test_admin_form_without_csrf_token_refused(admin) -> None:
    form = item_form(admin, "DB-03", time_limit_days="12")
    del form["csrf_token"]
    resp = admin.post("/admin/catalogue/item/DB-03", data=form)
    assert resp.status_code == 400
    assert "表单已过期或来源无法确认，本次操作没有执行" in resp.get_data(as_text=True)
    refused = AuditEntry.select().order_by(AuditEntry.seq.desc()).get()
    assert (refused.action, refused.actor, refused.target) == ("csrf.refused", "admin1", "/admin/catalogue/item/DB-03")
    form["csrf_token"] = "forged-token"
    assert admin.post("/admin/catalogue/item/DB-03", data=form).status_code == 400
    assert admin.post("/admin/holidays", data={"day": "2027-02-08", "kind": "holiday", "op": "add"}).status_code == 400
    assert versions() == 1
    assert item_of(current(), "DB-03")["time_limit_days"] == 10


def test_admin_pages_refuse_other_roles(hub_app) -> None:
    for role in ("staff", "supervisor"):
        client = hub_app.test_client()
        login_as(client, role)
        for url in ("/admin/catalogue", "/admin/catalogue/item/DB-03", "/admin/holidays"):
            assert client.get(url).status_code == 403, (role, url)
        page = client.get("/supervision/" if role == "supervisor" else "/login").get_data(as_text=True)
        resp = client.post(
            "/admin/catalogue/windows", data={"csrf_token": csrf_of(page), "base_version": "1", "remove_W14": "on"}
        )
        assert resp.status_code == 403
        assert versions() == 1
    assert hub_app.test_client().get("/admin/catalogue").status_code == 302  # not logged in: to the login page


def test_holidays_page(admin) -> None:
    page = admin.get("/admin/holidays").get_data(as_text=True)
    resp = admin.post(
        "/admin/holidays", data={"csrf_token": csrf_of(page), "day": "2027-02-08", "kind": "holiday", "op": "add"}
    )
    assert resp.status_code == 302
    page = admin.get("/admin/holidays").get_data(as_text=True)
    assert "2027-02-08" in page
    assert "已添加节假日 2027-02-08" in page
    resp = admin.post(
        "/admin/holidays", data={"csrf_token": csrf_of(page), "day": "2027/02/08", "kind": "holiday", "op": "add"}
    )
    assert resp.status_code == 400
    assert "日期格式应为 YYYY-MM-DD" in resp.get_data(as_text=True)


def test_item_of_a_new_kind_on_forestry_and_its_window_staffed(admin, sim: NodeSim) -> None:
    page = admin.get("/admin/catalogue").get_data(as_text=True)
    assert "默认，待核对" in page  # the shipped defaults are marked for the township to check
    token = csrf_of(page)
    resp = admin.post(
        "/admin/catalogue/kinds",
        data={"csrf_token": token, "base_version": "1", "new_kind_code": "gl", "new_kind_name": "公益林补偿"},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert current().kind_name("GL") == "公益林补偿"
    form = item_form(
        admin,
        "new",
        code="GL-01",
        name="生态公益林补偿资金申领",
        window="W14",
        mode="processed",
        time_limit_days="15",
        fee="免费",
        procedure="农户申请 → 林业窗口核实 → 公示 → 发放",
        legal_basis="《中华人民共和国森林法》",
        materials="M-ID|身份证|是\nM-FOREST-CERT|林权证|是",
        active="on",
    )
    resp = admin.post("/admin/catalogue/item/new", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    item = item_of(current(), "GL-01")
    assert (item["kind"], item["window"], item["to_check"]) == ("GL", "W14", False)
    # The node receives the new kind and item on its next sync.
    got = sim.poll()["catalogue"]
    assert {"code": "GL", "name": "公益林补偿"} in got["kinds"]
    assert any(i["code"] == "GL-01" for i in got["items"])

    # A window added in the catalogue can be staffed at once.
    token = csrf_of(admin.get("/admin/catalogue").get_data(as_text=True))
    resp = admin.post(
        "/admin/catalogue/windows",
        data={
            "csrf_token": token,
            "base_version": str(current().version),
            "new_code": "W15",
            "new_name": "退役军人服务",
        },
    )
    assert resp.status_code == 302
    staff_page = admin.get("/admin/staff").get_data(as_text=True)
    assert "退役军人服务" in staff_page
    resp = admin.post(
        "/admin/staff",
        data={
            "csrf_token": csrf_of(staff_page),
            "username": "lin",
            "name": "林强",
            "password": "secret-pass",
            "role": "staff",
            "window": ["W14", "W15"],
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    from hub.models import Staff

    assert Staff.get(Staff.username == "lin").windows == ["W14", "W15"]
    token = csrf_of(admin.get("/admin/staff").get_data(as_text=True))
    resp = admin.post("/admin/staff/lin/windows", data={"csrf_token": token, "window": ["W14", "W99"]})
    assert resp.status_code == 400
    assert "窗口编码不存在：W99" in resp.get_data(as_text=True)
    assert Staff.get(Staff.username == "lin").windows == ["W14", "W15"]
    assert AuditEntry.select().where(AuditEntry.action == "staff.refused").count() == 1


def test_item_of_unknown_kind_or_window_refused_and_audited(admin) -> None:
    before = (versions(), current().to_dict())
    for code, window, said in (("ZZ-01", "W14", "类别 ZZ 不存在"), ("LY-02", "W77", "所属窗口 “W77” 不存在")):
        form = item_form(
            admin,
            "new",
            code=code,
            name="某事项",
            window=window,
            mode="processed",
            time_limit_days="10",
            procedure="流程",
            legal_basis="依据",
            materials="M-ID|身份证|是",
            active="on",
        )
        resp = admin.post("/admin/catalogue/item/new", data=form)
        assert resp.status_code == 400
        assert said in resp.get_data(as_text=True)
    token = csrf_of(admin.get("/admin/catalogue").get_data(as_text=True))
    resp = admin.post("/admin/catalogue/kinds", data={"csrf_token": token, "base_version": "1", "remove_LY": "on"})
    assert resp.status_code == 400
    assert "不在目录的类别中" in resp.get_data(as_text=True)
    assert (versions(), current().to_dict()) == before
    assert AuditEntry.select().where(AuditEntry.action == "catalogue.refused").count() == 3


def test_a_hub_set_up_with_the_first_nine_items_gets_the_other_defaults(admin) -> None:
    from hub.catalogue_admin import add_defaults

    old = current().to_dict()
    del old["kinds"]
    old["items"] = [dict(i, name=i["name"] + "（本镇）") for i in old["items"] if i["kind"] in ("FP", "DB", "JF")]
    CatalogueVersion.create(version=2, data=dict(old, version=2), created_at=CatalogueVersion.get().created_at)
    version, codes = add_defaults("admin1")
    cat = current()
    assert version == 3
    assert len(codes) == 11
    assert "LY-01" in codes
    assert item_of(cat, "FP-01")["name"] == "生育登记（本镇）"  # what the township has is kept
    assert item_of(cat, "LY-01")["to_check"] is True
    assert cat.kind_name("LY") == "林业"
    token = csrf_of(admin.get("/admin/catalogue").get_data(as_text=True))
    resp = admin.post("/admin/catalogue/defaults", data={"csrf_token": token})
    assert resp.status_code == 400
    assert "无需补充" in resp.get_data(as_text=True)
    assert current().version == 3
