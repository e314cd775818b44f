"""The public service guide: every active item by window, one poster per item with a QR code, no script."""

from __future__ import annotations

import pytest

from hub.catalogue_store import current
from shared.catalogue import Catalogue, validate_catalogue
from tests.hub.pages import csrf_of, login_as
from tests.hub.test_catalogue_admin import item_form


def test_guide_lists_every_active_item_by_window_with_its_guide(hub_client) -> None:
    resp = hub_client.get("/guide")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<script" not in html.lower()
    cat = current()
    for item in cat.items():
        assert item["name"] in html
        assert f'id="{item["code"]}"' in html
    # Windows in catalogue order, each item inside its own window's section.
    assert (
        html.index('id="window-W05"')
        < html.index('id="DB-03"')
        < html.index('id="window-W09"')
        < html.index('id="JF-01"')
        < html.index('id="window-W10"')
        < html.index('id="FP-01"')
    )
    for text in (
        "申办条件",
        "申请材料",
        "办理流程",
        "办理时限",
        "收费标准及依据",
        "政策依据",
        "办理地点",
        "责任窗口",
        "即办件",
        "承办件",
        "免费",
        "共同生活家庭成员逐一签字",
        "民发〔2021〕57号",
        "村级代办点",
        "30个工作日",
    ):
        assert text in html, text
    assert resp.headers["Content-Security-Policy"].count("script-src 'none'") == 1
    assert len(resp.data) < 40 * 1024


def test_item_page_is_a_poster_with_a_qr_code_to_itself(hub_app) -> None:
    hub_app.config["PUBLIC_URL"] = "https://zw.example.gov.cn/"
    resp = hub_app.test_client().get("/guide/db-01")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "服务指南" in html
    assert "农村最低生活保障申请" in html
    assert "<svg" in html
    assert "<title>https://zw.example.gov.cn/guide/DB-01</title>" in html
    assert "<script" not in html.lower()
    assert "style=" not in html  # the strict CSP allows neither
    css = hub_app.test_client().get("/guide-static/guide.css")
    assert css.status_code == 200
    assert b"size:A4" in css.data


def test_print_layout_has_one_poster_per_active_item(hub_client) -> None:
    html = hub_client.get("/guide/print").get_data(as_text=True)
    assert html.count('<article class="poster"') == len(current().items()) == 20
    assert html.count("<svg") == 20


def test_unknown_and_inactive_items_are_a_clear_404(hub_app) -> None:
    client = hub_app.test_client()
    for code in ("XX-99", "<script>", "DB-01" * 50):
        resp = client.get(f"/guide/{code}")
        assert resp.status_code == 404
        assert "没有找到这个办理事项" in resp.get_data(as_text=True)
        assert "<script>" not in resp.get_data(as_text=True)
    admin = hub_app.test_client()
    login_as(admin, "admin")
    assert admin.post("/admin/catalogue/item/DB-03", data=item_form(admin, "DB-03", active=None)).status_code == 302
    assert client.get("/guide/DB-03").status_code == 404
    assert "临时救助申请" not in client.get("/guide").get_data(as_text=True)


def test_admin_edits_conditions_and_fee_basis_and_the_guide_escapes_them(hub_app) -> None:
    admin = hub_app.test_client()
    login_as(admin, "admin")
    form = item_form(
        admin,
        "DB-01",
        conditions="持有本县农业户籍<script>alert(1)</script>",
        fee_basis="不收费（《社会救助暂行办法》）",
    )
    assert admin.post("/admin/catalogue/item/DB-01", data=form).status_code == 302
    item = current().item("DB-01")
    assert item is not None
    assert item["conditions"].startswith("持有本县农业户籍")
    assert current().version == 2
    edit = admin.get("/admin/catalogue/item/DB-01").get_data(as_text=True)
    assert "不收费（《社会救助暂行办法》）" in edit
    html = hub_app.test_client().get("/guide/DB-01").get_data(as_text=True)
    assert "持有本县农业户籍&lt;script&gt;" in html
    assert "<script>" not in html
    assert "不收费（《社会救助暂行办法》）" in html
    # A form without the new fields (an older page) keeps what was stored.
    form = item_form(admin, "DB-01", name="农村最低生活保障申请（含单人户）")
    form.pop("conditions", None)
    form.pop("fee_basis", None)
    form["csrf_token"] = csrf_of(admin.get("/admin/catalogue/item/DB-01").get_data(as_text=True))
    form["base_version"] = str(current().version)
    assert admin.post("/admin/catalogue/item/DB-01", data=form).status_code == 302
    assert current().item("DB-01")["fee_basis"] == "不收费（《社会救助暂行办法》）"  # type: ignore[index]


@pytest.mark.parametrize("bad", [5, ["x"], {"a": 1}])
def test_guide_texts_must_be_text(bad) -> None:
    data = Catalogue.default().to_dict()
    data["items"][0]["conditions"] = bad
    data["items"][1]["fee_basis"] = bad
    errors = validate_catalogue(data)
    assert "事项 FP-01的申办条件必须是文字（不超过 2000 个字）" in errors
    assert "事项 FP-02的收费标准及依据必须是文字（不超过 2000 个字）" in errors
