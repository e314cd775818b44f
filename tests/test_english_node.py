"""One language policy on the village node: every page in English when asked, Chinese by default.

The same rule as tests/test_english.py (which holds the allow-list helpers): the URL map is walked,
and only seeded user data, the catalogue and the printed official documents may stay Chinese.
"""

from __future__ import annotations

from typing import Any

from node.models import Event
from tests import support
from tests.node.conftest import clerk, clerk_account  # noqa: F401 - fixtures
from tests.test_english import catalogue_strings, get_endpoints, leftovers, masked, seeded_strings

# The node's printed papers that are official documents as a whole (the receipt, the notices, the
# guide): only the screen chrome around them is checked. Their titles are official document titles.
PRINTED = {"capture.receipt", "capture.notice", "notices.hub_notice", "mailbox.receipt", "guide.print_all"}


def node_world(clerk: Any) -> tuple[dict[str, str], set[str]]:  # noqa: F811 - the fixture
    from node.notices import NOTICE_KINDS
    from shared.catalogue import Catalogue
    from tests.node.hubupdates import hub_decides
    from tests.node.test_capture_views import capture

    req = hub_decides(capture(clerk, missing=("M-NEIGHBOURS",)), "accept", "accepted", deadline="2026-12-24")
    clerk.post(
        "/messages",
        {"category": "complaint", "content": "窗口办事慢", "about": "王芳", "window": "W05"},
        page="/messages",
    )
    message = Event.get(Event.type == "message.left").data["receipt_code"]
    code = req.receipt_code
    urls = {
        "requests.index": "/",
        "notices.attention": "/attention",
        "capture.pick": "/capture",
        "capture.form": "/capture/JF-01",
        "guide.index": "/guide",
        "guide.item": "/guide/JF-01",
        "guide.print_all": "/guide/print",
        "auth.login": "/login",
        "mailbox.index": "/messages",
        "mailbox.receipt": f"/messages/{message}",
        "requests.detail": f"/requests/{code}",
        "notices.hub_notice": f"/requests/{code}/hub-notice",
        "capture.notice": f"/requests/{code}/notice",
        "capture.receipt": f"/requests/{code}/receipt",
        "status.lookup": "/status",
        "sync_panel.panel": "/sync",
        "bundle_views.page": "/sync/bundle",
        "bundle_views.export_file": "/sync/bundle/export/file",
    }
    data = (
        set(catalogue_strings(Catalogue.default().to_dict()))
        | seeded_strings(["JF-01"])
        | masked(["李文书", "王建国", "王芳", "桃源村"])
        | {"窗口办事慢", "国土与城建"}
        | set(NOTICE_KINDS.values())
    )
    return urls, data


def test_every_node_page_renders_in_english(node_app, clerk) -> None:  # noqa: F811
    clerk.client.set_cookie("lang", "en")  # before seeding: the flashes it leaves are in English too
    urls, data = node_world(clerk)
    assert set(urls) == get_endpoints(node_app), "a new node page: add it to urls (or to NOT_PAGES with why)"
    found = {}
    for who, client in (("clerk", clerk.client), ("anonymous", node_app.test_client())):
        client.set_cookie("lang", "en")
        for endpoint, url in urls.items():
            resp = client.get(url)
            assert resp.status_code in (200, 302, 404), (who, url, resp.status_code)
            html = resp.get_data(as_text=True)
            if endpoint in PRINTED:
                html = html.split("<main", 1)[0]  # the screen chrome around the printed paper
            if left := leftovers(html, data):
                found[f"{who} {url} {resp.status_code}"] = left
    assert not found, "\n".join(f"{k}: {v[:6]}" for k, v in found.items())


def test_node_is_chinese_without_a_cookie(node_app, clerk) -> None:  # noqa: F811
    html = node_app.test_client().get("/login").get_data(as_text=True)
    assert "代办员登录" in html
    assert "Clerk login" not in html
    assert "待处理" in clerk.client.get("/").get_data(as_text=True)


# ----------------------------------------------------------------- refusals and field errors in English
# Errors raised in shared logic (shared/validation.py, shared/corrections.py, shared/mailbox.py,
# shared/ratings.py) are marked where they are defined and said in the page's language where shown.


def _form_data(form: dict[str, Any]) -> set[str]:
    """What the clerk typed is echoed back as it is: user data."""
    out: set[str] = set()
    for value in form.values():
        out |= set(value) if isinstance(value, (list, tuple)) else {str(value)}
    return out


def _english_error(resp: Any, data: set[str], *words: str) -> str:
    html = resp.get_data(as_text=True)
    for word in words:
        assert word in html, (word, html[html.find("error") :][:800])
    left = leftovers(html, data)
    assert not left, left[:6]
    return html


def test_capture_errors_are_in_english(node_app, clerk) -> None:  # noqa: F811
    from shared.catalogue import Catalogue
    from tests.node.conftest import capture_form

    clerk.client.set_cookie("lang", "en")
    form = capture_form("JF-01", **{"applicant.id_number": "11010519491231002", "applicant.phone": "12345"})
    before = Event.select().count()
    resp = clerk.post("/capture/JF-01", form, page="/capture/JF-01")
    assert resp.status_code == 422
    data = set(catalogue_strings(Catalogue.default().to_dict())) | _form_data(form) | {"李文书"}
    _english_error(
        resp, data, "The ID card number must have 18 characters; it has 17", "The mobile number must be 11 digits"
    )
    assert Event.select().count() == before  # nothing was recorded


def test_capture_errors_stay_chinese_by_default(node_app, clerk) -> None:  # noqa: F811
    from tests.node.conftest import capture_form

    resp = clerk.post("/capture/JF-01", capture_form("JF-01", **{"applicant.id_number": "123"}), page="/capture/JF-01")
    assert resp.status_code == 422
    assert "身份证号码应为18位，现为3位" in resp.get_data(as_text=True)


def test_bad_corrections_are_refused_in_english(node_app, clerk) -> None:  # noqa: F811
    from shared.catalogue import Catalogue
    from tests.node.hubupdates import hub_decides
    from tests.node.test_capture_views import capture

    req = capture(clerk)
    clerk.client.set_cookie("lang", "en")
    data = (
        set(catalogue_strings(Catalogue.default().to_dict()))
        | seeded_strings(["JF-01"])
        | masked(["李文书", "王建国", "桃源村"])
        | {"王建国", "桃源村三组12号", "三组", "换号"}
    )
    page = f"/requests/{req.receipt_code}"
    resp = clerk.post(f"{page}/correct", {"field": "applicant.phone", "value": "12345", "reason": "换号"}, page=page)
    assert resp.status_code == 400
    _english_error(resp, data, "The mobile number must be 11 digits")
    resp = clerk.post(f"{page}/correct", {"field": "applicant.name", "value": "王建民", "reason": ""}, page=page)
    _english_error(resp, data | {"王建民"}, "Please enter the reason for the correction")
    closed = hub_decides(capture(clerk), "refuse", "refused", reason="不符合条件", legal_basis="土地管理法")
    page = f"/requests/{closed.receipt_code}"
    resp = clerk.post(f"{page}/correct", {"field": "applicant.name", "value": "王建民", "reason": "录错"}, page=page)
    assert resp.status_code == 409
    html = _english_error(
        resp,
        data | {"王建民", "录错", "不符合条件", "土地管理法"},
        "This application is Refused and closed; it cannot be corrected",
    )
    assert "该申请已" not in html


def test_a_bad_message_is_refused_in_english(node_app, clerk) -> None:  # noqa: F811
    from shared.catalogue import Catalogue

    clerk.client.set_cookie("lang", "en")
    form = {"category": "nonsense", "content": "", "window": "W99"}
    resp = clerk.post("/messages", form, page="/messages")
    assert resp.status_code == 400
    data = set(catalogue_strings(Catalogue.default().to_dict())) | masked(["李文书", "桃源村"])
    _english_error(
        resp, data, "Please choose the kind of message", "Please enter the message", "The chosen window does not exist"
    )


class _Unavailable(support.QuietHandler):
    """A hub that answers every request with 503, as one behind a proxy does while it restarts."""

    def do_POST(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_sync_error_is_said_in_english_where_it_is_shown(node_app, clerk) -> None:  # noqa: F811
    from node import meta
    from node.db import database

    with support.serving(_Unavailable) as url:
        with database.connection_context():
            meta.put("hub_url", url)
        clerk.client.set_cookie("lang", "en")
        resp = clerk.post("/sync/now", {}, page="/sync")
        page = clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
    said = "The hub is unavailable for now (HTTP 503); retrying later"
    assert f"Sync failed: {said}" in page  # the flash
    last = page.split('id="last-error"', 1)[1].split("</td>", 1)[0]
    assert said in last  # kept in Chinese in the node's records, said again in English here
    assert not leftovers(page, masked(["李文书"])), leftovers(page, masked(["李文书"]))[:6]
    clerk.client.delete_cookie("lang")
    chinese = clerk.client.get("/sync").get_data(as_text=True)
    assert "中心暂时不可用（HTTP 503），稍后重试" in chinese


def test_a_refusal_the_hub_sends_is_said_in_english(node_app, clerk) -> None:  # noqa: F811
    """The hub sends its refusal in Chinese (ack.refused[].message); the village page says it in English."""
    from hub.ingest import Refusal
    from node.db import database
    from shared.msgid import N_
    from tests.node.test_capture_views import capture

    req = capture(clerk)
    # Exactly what hub/ingest.py puts on the wire for a withdrawal it cannot take.
    wire = Refusal("cannot_withdraw", N_("当前状态（%(state)s）不能撤回", state="已办结")).message
    with database.connection_context():
        Event.update(result="refused", result_message=str(wire)).where(Event.request_id == req.request_id).execute()
    clerk.client.set_cookie("lang", "en")
    page = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert "cannot be withdrawn" in page
    assert "不能撤回" not in page
    clerk.client.delete_cookie("lang")
    assert "当前状态（已办结）不能撤回" in clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)


def test_every_refusal_in_hub_ingest_is_in_the_nodes_catalogue() -> None:
    """A new refusal text in hub/ingest.py without an English line in the node's catalogue fails here."""
    from babel.messages.extract import extract_from_file
    from babel.messages.mofile import read_mo

    with open("node/translations/en/LC_MESSAGES/messages.mo", "rb") as f:
        english = read_mo(f)
    for path in ("hub/ingest.py", "hub/attachments.py"):
        marked = [m[1] for m in extract_from_file("python", path, keywords={"N_": (1,)})]
        assert marked, path
        for msgid in marked:
            said = english.get(msgid)
            assert said is not None, (path, msgid)
            assert said.string, (path, msgid)
