"""Attachments on the request page: upload, list, view, and every refusal leaving nothing stored."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image

from node.attachments import path_for
from node.models import Attachment, Event
from tests.images import photo
from tests.node.conftest import csrf_of
from tests.node.test_capture_views import capture


def png(width: int = 400, height: int = 300) -> bytes:
    """A small PNG with transparency, as a scanner app might save."""
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (20, 120, 200, 128)).save(out, "PNG")
    return out.getvalue()


def upload(clerk, code: str, data: bytes, name: str, material: str = "", with_csrf: bool = True):
    """Post the detail page's attachment form as a browser would."""
    form: dict = {"material": material, "file": (io.BytesIO(data), name)}
    if with_csrf:
        form["csrf_token"] = csrf_of(clerk.client.get(f"/requests/{code}").data)
    return clerk.client.post(f"/requests/{code}/attachments", data=form, content_type="multipart/form-data")


def stored_files(node_app) -> list[Path]:
    return sorted((Path(node_app.config["DATA_DIR"]) / "attachments").rglob("*"))


def test_upload_jpeg_and_png_are_stored_listed_and_viewable(clerk, node_app) -> None:
    req = capture(clerk)
    code = req.receipt_code
    resp = upload(clerk, code, photo(2400, 1600), "四邻意见.jpg", "M-NEIGHBOURS")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/requests/{code}")
    resp = upload(clerk, code, png(), "户口簿.png", "M-HUKOU")
    assert resp.status_code == 302

    atts = list(Attachment.select().where(Attachment.request_id == req.request_id).order_by(Attachment.id))
    assert [(a.name, a.material_code) for a in atts] == [("四邻意见.jpg", "M-NEIGHBOURS"), ("户口簿.png", "M-HUKOU")]
    assert Event.select().where((Event.request_id == req.request_id) & (Event.type == "attachment.added")).count() == 2
    with Image.open(path_for(atts[0].sha256, Path(node_app.config["DATA_DIR"]))) as img:
        assert img.format == "JPEG"
        assert max(img.size) <= 1600

    html = clerk.client.get(f"/requests/{code}").get_data(as_text=True)
    assert "附件已保存：户口簿.png" in html
    rows = re.findall(r'<td class="upload-state">([^<]+)</td>', html)
    assert rows == ["待上传", "待上传"]
    assert "四邻意见</td>" in html
    assert "户口簿</td>" in html
    assert f"{(atts[0].size + 1023) // 1024} KB" in html

    img = clerk.client.get(f"/requests/{code}/attachments/{atts[0].sha256}.jpg")
    assert img.status_code == 200
    assert img.headers["Content-Type"] == "image/jpeg"
    assert img.data == path_for(atts[0].sha256, Path(node_app.config["DATA_DIR"])).read_bytes()
    assert img.headers["Cache-Control"] == "no-store"


def test_uploaded_to_hub_is_shown(clerk) -> None:
    req = capture(clerk)
    upload(clerk, req.receipt_code, png(), "身份证.png", "M-ID")
    from node.attachments import mark_uploaded

    mark_uploaded(Attachment.get(Attachment.request_id == req.request_id).sha256)
    html = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert re.search(r'<td class="upload-state">已上传（\d{4}-\d\d-\d\d \d\d:\d\d）</td>', html)


def test_text_file_is_refused_next_to_the_form_and_nothing_stored(clerk, node_app) -> None:
    req = capture(clerk)
    events = Event.select().count()
    resp = upload(clerk, req.receipt_code, "这不是图片".encode() * 50, "说明.txt", "M-ID")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert re.search(r'<p class="error" id="att-error" role="alert">文件不是可识别的图片[^<]*</p>', html)
    assert '<option value="M-ID" selected>' in html
    assert "<script" not in html
    assert "<style" not in html
    assert " style=" not in html
    assert Attachment.select().count() == 0
    assert Event.select().count() == events
    assert stored_files(node_app) == []


def test_oversized_file_is_refused_and_nothing_stored(clerk, node_app) -> None:
    from shared.chunks import MAX_ATTACHMENT_BYTES

    req = capture(clerk)
    big = photo(200, 200) + b"\0" * MAX_ATTACHMENT_BYTES
    resp = upload(clerk, req.receipt_code, big, "巨大.jpg")
    assert resp.status_code == 400
    assert "附件过大" in resp.get_data(as_text=True)
    # Past the app's request limit the body is not even read.
    huge = b"\0" * (node_app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = upload(clerk, req.receipt_code, huge, "更大.jpg")
    assert resp.status_code == 413
    assert "文件过大" in resp.get_data(as_text=True)
    assert Attachment.select().count() == 0
    assert stored_files(node_app) == []


def test_material_not_in_the_items_catalogue_is_refused(clerk) -> None:
    req = capture(clerk)
    resp = upload(clerk, req.receipt_code, png(), "x.png", "M-NOT-THIS-ITEM")
    assert resp.status_code == 400
    assert "材料清单" in resp.get_data(as_text=True)
    assert Attachment.select().count() == 0


def test_missing_csrf_is_refused(clerk, node_app) -> None:
    req = capture(clerk)
    resp = upload(clerk, req.receipt_code, png(), "x.png", with_csrf=False)
    assert resp.status_code == 400
    assert "表单校验码" in resp.get_data(as_text=True)
    assert Attachment.select().count() == 0
    assert stored_files(node_app) == []


def test_not_logged_in_is_sent_to_login(clerk, node_app) -> None:
    req = capture(clerk)
    upload(clerk, req.receipt_code, png(), "x.png")
    sha = Attachment.get().sha256
    anon = node_app.test_client()
    resp = anon.get(f"/requests/{req.receipt_code}/attachments/{sha}.jpg")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]
    token = csrf_of(anon.get("/login").data)  # a valid token, but no login
    resp = anon.post(
        f"/requests/{req.receipt_code}/attachments",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(png(50, 50)), "y.png"), "csrf_token": token},
    )
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]
    assert Attachment.select().count() == 1


def test_image_only_by_hash_of_this_requests_attachment(clerk, node_app) -> None:
    first, second = capture(clerk), capture(clerk)
    upload(clerk, first.receipt_code, png(), "x.png")
    sha = Attachment.get().sha256
    assert clerk.client.get(f"/requests/{first.receipt_code}/attachments/{sha}.jpg").status_code == 200
    # Another request's code does not open this image, nor does a path or a bad hash.
    for path in (
        f"/requests/{second.receipt_code}/attachments/{sha}.jpg",
        f"/requests/{first.receipt_code}/attachments/{sha.upper()}.jpg",
        f"/requests/{first.receipt_code}/attachments/..%2F..%2Fnode.sqlite3.jpg",
        f"/requests/{first.receipt_code}/attachments/../../node_key.pem",
        f"/requests/{first.receipt_code}/attachments/{'0' * 64}.jpg",
    ):
        resp = clerk.client.get(path)
        assert resp.status_code == 404, path
        assert resp.headers.get("Content-Type", "").startswith("text/html"), path


def test_attachment_and_usb_forms_in_english(clerk) -> None:
    req = capture(clerk)
    upload(clerk, req.receipt_code, png(), "x.png")
    clerk.client.set_cookie("lang", "en")
    html = clerk.client.get(f"/requests/{req.receipt_code}").get_data(as_text=True)
    assert "Add attachment" in html
    assert "Photo or scan (JPG, PNG, at most 15 MB)" in html
    assert '<td class="upload-state">Waiting to send</td>' in html
    html = clerk.client.get("/sync").get_data(as_text=True)
    assert "Export USB sync bundle" in html
    assert "Import response bundle" in html
