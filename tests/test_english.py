"""One language policy: every page of both apps renders wholly in English when asked, Chinese by default.

The check walks each app's URL map, so a new page is checked the day it lands: every GET endpoint is
either rendered here (for each role that can reach it) or named in NOT_PAGES with the reason. What may
stay Chinese is allowed narrowly: user data this test seeded (names, villages, free text), the catalogue
(its items, materials and windows are data the admin edits) and the printed official documents
(`<article class="paper">`, handed to villagers in Chinese whatever the screen language, and the
服务指南 posters, `<article class="poster">`, printed and posted in the villages, and the 受理登记册
as it is printed: its title and table).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.i18n import LANGUAGES
from tests.support import csrf_of

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
PAPER = re.compile(
    r'<article class="(?:paper|poster)"[^>]*>.*?</article>'
    r'|<h1 class="register-title">.*?</h1>|<table class="register">.*?</table>'
    r'|<section class="publicity-list">.*?</section>',
    re.S,
)  # 公示名单: posted as printed
# Data shown as stored: the catalogue editor's materials box (the catalogue's own line format,
# 编码|名称|是|备注) and the payload column of the audit log.
EDITED = re.compile(r'<textarea name="materials"[^>]*>.*?</textarea>|<td class="detail">.*?</td>', re.S)

# GET endpoints that are not pages: machine formats, files, redirects.
NOT_PAGES = {
    "static": "files",
    "public_guide.static": "files",
    "guide.static": "files",
    "i18n.switch": "a redirect that sets the cookie",
    "api.openapi": "JSON",
    "api.healthz": "JSON",
    "metrics.metrics": "Prometheus text",
    "node_api.get_request": "JSON",
    "node_api.healthz": "JSON",
    "register.export": "the official register as .xlsx (an official document)",
    "supervision.export_csv": "a spreadsheet export",
    "supervision.export_xlsx": "a spreadsheet export",
    "county.figures_export": "a spreadsheet export",
    "attachment_views.image": "a photo",
    "case_attachments.view": "a village's scan or photo, served as a file",
}


# What a form posts is not shown: radio values are the stored vocabulary (满意), shown through labels.
FORM_VALUE = re.compile(r' value="[^"]*"')


def catalogue_strings(data: Any) -> Iterator[str]:
    """Every string of the catalogue document: item, material, window and field names are data."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from catalogue_strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from catalogue_strings(value)


def seeded_strings(item_codes: Iterable[str]) -> set[str]:
    """What the seeded cases carry and the pages show as it is: the capture form, the official guide
    text of each item (服务指南, 政务公开) and the titles of the official documents."""
    from shared import papers
    from shared.catalogue import Catalogue
    from shared.guide import guide_view
    from tests.factories import capture

    cat = Catalogue.default()
    out = set(papers.TITLES.values())
    for code in item_codes:
        out |= set(catalogue_strings(capture(code)))
    for item in cat.items():
        out |= set(catalogue_strings(guide_view(cat, item)))
    return out


def masked(names: Iterable[str]) -> set[str]:
    """The names and their masked forms as public pages show them (王**)."""
    out = set()
    for name in names:
        out |= {name, name[0] + "*" * (len(name) - 1)}
    return out


def leftovers(html: str, allowed: set[str]) -> list[str]:
    """CJK text left on a page once official documents and allowed data are taken out."""
    text = EDITED.sub(" ", PAPER.sub(" ", html))
    text = FORM_VALUE.sub(" ", text)
    for name in LANGUAGES.values():  # each language is offered under its own name
        text = text.replace(f">{name}<", "><")
    for value in sorted((a for a in allowed if a), key=len, reverse=True):
        text = text.replace(value, " ")
    return [text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ") for m in CJK.finditer(text)]


def get_endpoints(app: Any) -> set[str]:
    return {r.endpoint for r in app.url_map.iter_rules() if "GET" in r.methods} - set(NOT_PAGES)


# ---------------------------------------------------------------------------------------------- hub


@pytest.fixture
def hub_db_url(tmp_path: Path) -> str:
    """Languages do not depend on the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


def hub_world(hub_app: Any) -> tuple[dict[str, Any], dict[str, str], set[str]]:
    """Log in each role, sync a case with a paper, a rating and a message in; the URLs to visit."""
    from hub.catalogue_store import current
    from hub.enrolment import issue_code
    from hub.models import MailMessage
    from tests.hub.console_support import Desk, new_case
    from tests.hub.test_ratings import feedback
    from tests.nodesim import NodeSim

    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    desks = {
        "staff": Desk(hub_app, "wang", "王芳", windows=["W04", "W05", "W09", "W10"]),
        "supervisor": Desk(hub_app, "chen", "陈督查", role="supervisor"),
        "admin": Desk(hub_app, "liu", "刘管理", role="admin"),
    }
    code = new_case(sim, "JF-01", name="张三")
    desks["staff"].act(code, "accept")
    rated = new_case(sim, "FP-01", name="李四")
    feedback(sim, rated, satisfaction="不满意", comment="等了很久", channel="paper")
    token_page = sim.client.get("/mailbox").get_data(as_text=True)
    token = csrf_of(token_page)
    sim.client.post(
        "/mailbox",
        data={
            "category": "consult",
            "content": "请问低保怎么申请？",
            "name": "赵五",
            "phone": "13800001234",
            "csrf_token": token,
        },
    )
    page = desks["staff"].get(f"/console/case/{code}").get_data(as_text=True)
    paper = re.search(rf"/console/case/{code}/paper/(\d+)", page).group(1)  # type: ignore[union-attr]
    urls = {
        "console.home": "/",
        "console.queue_view": "/console/",
        "console.case_view": f"/console/case/{code}",
        "console.feedback_form": f"/console/case/{code}/feedback",
        "console.notice_view": f"/console/case/{code}/paper/{paper}",
        "console.contacts_view": "/console/contacts",
        "console.staff_view": "/console/staff",
        "mailbox.index": "/console/mailbox",
        "mailbox.detail": f"/console/mailbox/{MailMessage.get().code}",
        "mailbox.public_form": "/mailbox",
        "register.page": "/console/register",
        "sms_admin.index": "/console/sms",
        "fleet.index": "/fleet/",
        "catalogue_admin.index": "/admin/catalogue",
        "catalogue_admin.edit_item": "/admin/catalogue/item/JF-01",
        "catalogue_admin.holidays": "/admin/holidays",
        "staff_admin.index": "/admin/staff",
        "publicity.list_page": "/console/publicity",
        "public_guide.index": "/guide",
        "public_guide.item": "/guide/JF-01",
        "public_guide.print_all": "/guide/print",
        "auth.login": "/login",
        "ratings.index": "/ratings",
        "ratings.detail": f"/ratings/{rated}",
        "public_results.results": "/results",
        "public_status.status": "/status",
        "supervision.dashboard": "/supervision/",
        "supervision.audit_log": "/supervision/audit",
        "supervision.watch": "/supervision/watch",
        "counter.pick": "/console/counter",
        "counter.form": "/console/counter/FP-01",
        "counter.receipt": f"/console/case/{code}/receipt",
        "search.page": "/console/search?q=张三",
        "county.queue_page": "/county/",  # a township hub: 404; a county's is checked in tests/hub/test_county_level.py
        "county.figures_page": "/county/figures",  # likewise; a county's in tests/hub/test_county_reports.py
    }
    data = (
        set(catalogue_strings(current().to_dict()))
        | seeded_strings(["JF-01", "FP-01"])
        | masked(["王芳", "陈督查", "刘管理", "张三", "李四", "赵五", "桃源村", "李文书"])
        | {"等了很久", "请问低保怎么申请？", "默认目录"}
    )
    return {**desks, "public": hub_app.test_client()}, urls, data


def test_every_hub_page_renders_in_english(hub_app) -> None:
    clients, urls, data = hub_world(hub_app)
    assert set(urls) == get_endpoints(hub_app), "a new hub page: add it to urls (or to NOT_PAGES with why)"
    found = {}
    for role, client in clients.items():
        client = getattr(client, "client", client)
        client.set_cookie("lang", "en")
        for url in urls.values():
            resp = client.get(url)
            html = resp.get_data(as_text=True)
            assert resp.status_code in (200, 302, 400, 403, 404), (role, url, resp.status_code)
            if left := leftovers(html, data):
                found[f"{role} {url} {resp.status_code}"] = left
    assert not found, "\n".join(f"{k}: {v[:6]}" for k, v in found.items())


def test_hub_is_chinese_without_a_cookie(hub_app) -> None:
    client = hub_app.test_client()
    assert "登录" in client.get("/login").get_data(as_text=True)
    assert "Log in" not in client.get("/login").get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert "Log in" in client.get("/login").get_data(as_text=True)
    assert 'href="/lang/zh_CN?next=/login' in client.get("/login").get_data(as_text=True)  # the way back
    client.set_cookie("lang", "xx")  # an unknown language falls back to Chinese
    assert "登录" in client.get("/login").get_data(as_text=True)


# ------------------------------------------------------------ refusals and field errors on the hub
# A refusal raised in hub/cases.py, shared/states.py, shared/validation.py or the corrections is
# marked where it is defined and said in the page's language where it is shown; what is audited or
# sent to the village stays Chinese (stored data).


def _refusal_world(hub_app: Any) -> tuple[Any, Any, str, set[str]]:
    from hub.catalogue_store import current
    from hub.enrolment import issue_code
    from hub.models import Case
    from tests.hub.console_support import Desk, new_case
    from tests.nodesim import NodeSim

    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "JF-01", name="张三")
    window = Case.get(Case.receipt_code == code).window
    wang = Desk(hub_app, "wang", "王芳", windows=[window])
    wang.client.set_cookie("lang", "en")
    data = (
        set(catalogue_strings(current().to_dict()))
        | seeded_strings(["JF-01"])
        | masked(["王芳", "张三", "桃源村", "周敏", "李文书"])
        | {"默认目录"}
    )
    return sim, wang, code, data


def _says(resp: Any, data: set[str], *words: str) -> None:
    html = resp.get_data(as_text=True)
    for word in words:
        assert word in html, (word, CJK.findall(html)[:20])
    assert not (left := leftovers(html, data)), left[:6]


def test_refused_case_actions_are_said_in_english(hub_app) -> None:
    from tests.hub.console_support import snapshot

    _, wang, code, data = _refusal_world(hub_app)
    before = snapshot()
    # A transition the rules forbid (shared/states.py), its state names translated inside the sentence.
    resp = wang.act(code, "approve")
    assert resp.status_code == 409, resp.status_code
    _says(
        resp, data, "Decided (approved) cannot follow Received: a processed item must be accepted before it is closed"
    )
    resp = wang.act(code, "refuse", reason="", legal_basis="")
    assert resp.status_code == 400
    _says(resp, data, "A refusal or denial must state the reason and the legal basis")
    resp = wang.act(code, "ask_materials", missing=["M-NOPE"])
    _says(resp, data, "This item has no such materials: M-NOPE")
    assert snapshot() == before  # refused: nothing changed


def test_bad_corrections_at_the_hub_are_said_in_english(hub_app) -> None:
    from hub import cases
    from hub.models import Case

    _, wang, code, data = _refusal_world(hub_app)
    before = Case.get(Case.receipt_code == code).captured
    for form, words in (
        (
            {"field": "applicant.id_number", "value": "12345", "reason": "录错"},
            "The ID card number must have 18 characters; it has 5",
        ),
        ({"field": "applicant.name", "value": "李四", "reason": ""}, "Please enter the reason for the correction"),
        ({"field": "receipt_code", "value": "220000000", "reason": "改号"}, "Please choose the entry to correct"),
    ):
        resp = wang.post(f"/console/case/{code}/correct", form)
        assert resp.status_code == 400
        _says(resp, data | {v for v in form.values()}, words)
    assert Case.get(Case.receipt_code == code).captured == before
    cases.act(code, "refuse", "system", reason="不属于本中心受理范围", legal_basis="行政许可法第三十二条")
    resp = wang.post(f"/console/case/{code}/correct", {"field": "applicant.name", "value": "李四", "reason": "录错"})
    assert resp.status_code == 409
    _says(
        resp,
        data | {"李四", "录错", "不属于本中心受理范围", "行政许可法第三十二条"},
        "This application is Refused and closed, so it cannot be corrected",
    )


def test_counter_form_errors_are_said_in_english_and_audited_in_chinese(hub_app) -> None:
    from hub.catalogue_store import current
    from hub.models import AuditEntry
    from hub.enrolment import get_or_create_village
    from tests.hub.console_support import Desk
    from tests.hub.test_counter import form, receive

    zhou = Desk(hub_app, "zhou", "周敏", windows=["W10", "W05"])
    zhou.client.set_cookie("lang", "en")
    village = get_or_create_village("杏花村")
    bad = form(
        "DB-01",
        int(village.id),
        **{"applicant.id_number": "430102199001011234", "fields.household_size": "9" * 20, "applicant.phone": "12"},
    )
    resp = receive(zhou, "DB-01", bad)
    assert resp.status_code == 422
    posted = {x for v in bad.values() for x in (v if isinstance(v, list) else [v])}
    _says(
        resp,
        set(catalogue_strings(current().to_dict())) | masked(["周敏", "杏花村"]) | posted,
        "The check digit of the ID card number is wrong",
        "The mobile number must be 11 digits",
    )
    assert AuditEntry.select().where(AuditEntry.action == "counter.refused").exists()


def test_a_refused_reply_is_shown_in_english_and_audited_in_chinese(hub_app) -> None:
    from hub.models import AuditEntry, MailMessage
    from tests.hub.console_support import Desk

    public = hub_app.test_client()
    token = csrf_of(public.get("/mailbox").get_data(as_text=True))
    public.post(
        "/mailbox",
        data={
            "category": "consult",
            "content": "请问低保怎么申请？",
            "name": "赵五",
            "phone": "13800001234",
            "csrf_token": token,
            "window": "W05",
        },
    )
    msg = MailMessage.get()
    Desk(hub_app, "zhou", "周敏", windows=[msg.window])  # the window's own staff, who may answer
    other = Desk(hub_app, "qian", "钱进", windows=["W10" if msg.window != "W10" else "W09"])
    other.client.set_cookie("lang", "en")
    resp = other.post(f"/console/mailbox/{msg.code}/reply", {"reply": "可以申请"}, page="/console/mailbox")
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    assert "not for a window you are responsible for" in html, CJK.findall(html)
    assert not (left := leftovers(html, masked(["钱进"]))), left
    entry = AuditEntry.select().where(AuditEntry.action == "mailbox.refused_reply").get()
    assert entry.detail == {"reason": "该留言不属于您负责的窗口，不能答复"}  # the audit chain keeps the Chinese text


def test_a_refused_report_period_is_said_in_english_and_audited_in_chinese(hub_app) -> None:
    from hub.models import AuditEntry
    from tests.hub.console_support import Desk

    boss = Desk(hub_app, "chen", "陈督查", role="supervisor")
    boss.client.set_cookie("lang", "en")
    resp = boss.get("/supervision/?from=2026-13-01")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "The From date must be YYYY-MM-DD" in html
    assert not leftovers(html, masked(["陈督查"]))
    resp = boss.get("/supervision/?by=nope")
    assert "Group by one of: Window (window)" in resp.get_data(as_text=True), CJK.findall(resp.get_data(as_text=True))
    resp = boss.get("/supervision/export.csv?from=2026-05-02&to=2026-05-01")
    assert resp.status_code == 400
    assert resp.get_data(as_text=True) == "The start date cannot be later than the end date"
    reasons = [e.detail.get("reason") for e in AuditEntry.select() if e.action.startswith("figures")]
    assert "开始日期不能晚于结束日期" in reasons, reasons  # the audit chain keeps the Chinese text
