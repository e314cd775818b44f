"""USB bundles from the sync panel (hub on SQLite and PostgreSQL): download, the hub's answer uploaded, refusals."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import pytest

from node.db import database
from node.models import Attachment, Request
from tests.linked import Linked, link
from tests.node.conftest import csrf_of
from tests.node.test_attachment_views import png, upload
from tests.node.test_bundles import hub_import, node_snapshot
from tests.node.test_capture_views import capture


@pytest.fixture
def linked(hub_app, node_app) -> Linked:
    return link(hub_app, node_app)


def download(clerk) -> tuple[bytes, str]:
    """Press "导出U盘同步包": the file's bytes and its name."""
    resp = clerk.post("/sync/bundle/export", {}, page="/sync")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    name = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert name, disposition
    return resp.data, unquote(name.group(1))


def send_back(clerk, raw: bytes) -> str:
    """Upload the hub's response bundle; the panel page shown afterwards."""
    token = csrf_of(clerk.client.get("/sync").data)
    resp = clerk.client.post(
        "/sync/bundle/import",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(raw), "reply.bundle"), "csrf_token": token},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/sync")
    return clerk.client.get("/sync").get_data(as_text=True)


def test_usb_round_trip_from_the_web_ui(linked: Linked, clerk) -> None:
    req = capture(clerk)
    assert upload(clerk, req.receipt_code, png(), "四邻意见.png", "M-NEIGHBOURS").status_code == 302
    panel = clerk.client.get("/sync").get_data(as_text=True)
    assert "导出U盘同步包" in panel
    assert re.search(r'id="attachments-pending">1 个，\d+ KB', panel)

    raw, name = download(clerk)
    assert re.fullmatch(r"daiban-桃源村-\d{4}-\d\d-\d\d\.bundle", name), name
    res = hub_import(linked, raw)  # what `daiban hub import-bundle` runs
    assert res.accepted == 2
    assert res.refused == 0
    assert res.attachments == 1

    html = send_back(clerk, res.response)
    assert re.search(r"已导入回复包：中心确认事件 2（退回 0），收到状态更新 \d+，中心已收附件 1", html)
    assert 'id="attachments-pending">0 个，0 KB' in html
    with database.connection_context():
        assert Request.get(Request.receipt_code == req.receipt_code).state == "received"
        assert Attachment.get().uploaded_at is not None
    detail = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert "已上传（" in detail

    before = node_snapshot()
    html = send_back(clerk, res.response)
    assert re.search(r"此回复包已于 [^<]+导入过，本次未做任何更改", html)
    assert "导入失败" not in html
    assert node_snapshot() == before


def test_tampered_or_foreign_response_is_refused_and_changes_nothing(linked: Linked, clerk) -> None:
    capture(clerk)
    raw, _ = download(clerk)
    res = hub_import(linked, raw)
    before = node_snapshot()
    tampered = bytearray(res.response)
    tampered[len(tampered) // 2] ^= 0x01
    html = send_back(clerk, bytes(tampered))
    msg = re.search(r'<p class="flash error[^>]*>(导入失败：[^<]+)</p>', html)
    assert msg, html
    assert any(w in msg.group(1) for w in ("篡改", "损坏", "无法解密")), html
    # The node's own outgoing bundle is no answer either.
    html = send_back(clerk, raw)
    assert re.search(r'<p class="flash error[^>]*>导入失败：[^<]+</p>', html)
    assert node_snapshot() == before
    assert "已导入回复包" not in html


def test_export_needs_login_csrf_and_enrolment(clerk, node_app) -> None:
    capture(clerk)
    assert clerk.client.post("/sync/bundle/export").status_code == 400  # no CSRF token
    html = clerk.client.get(clerk.post("/sync/bundle/export", {}, page="/sync").headers["Location"])
    assert "导出失败：本代办点尚未注册" in html.get_data(as_text=True)
    resp = clerk.post("/sync/bundle/import", {}, page="/sync")
    assert "请选择乡镇中心给出的回复包文件" in clerk.client.get(resp.headers["Location"]).get_data(as_text=True)
    anon = node_app.test_client()
    token = csrf_of(anon.get("/login").data)
    for path in ("/sync/bundle/export", "/sync/bundle/import"):
        resp = anon.post(path, data={"csrf_token": token})
        assert resp.status_code == 302, path
        assert "/login" in resp.headers["Location"], path
