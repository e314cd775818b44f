"""Attachments on the node: only real images, shrunk and stripped, stored by hash, one event each."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from node import attachments
from node.attachments import AttachmentError, add_attachment
from node.capture import capture_request
from node.db import database
from node.models import Attachment, Event
from tests.factories import capture
from tests.images import photo


@pytest.fixture
def receipt(node_app) -> str:
    with database.connection_context():
        return capture_request(capture("JF-01"), "李文书").receipt_code


def stored_files(node_app) -> list:
    return sorted((Path(node_app.config["DATA_DIR"]) / "attachments").rglob("*.jpg"))


def test_photo_is_shrunk_stripped_and_stored_by_hash(node_app, receipt: str) -> None:
    raw = photo(3000, 2000)
    assert Image.open(io.BytesIO(raw)).getexif()  # the input really carries EXIF
    with database.connection_context():
        att = add_attachment(receipt, "C:\\扫描\\身份证.jpg", raw, "李文书", material_code="ID")
        ev = Event.get(Event.event_id == att.event_id)
    data = attachments.path_for(att.sha256, base=Path(node_app.config["DATA_DIR"])).read_bytes()
    assert hashlib.sha256(data).hexdigest() == att.sha256
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert max(img.size) == 1600
    assert img.size == (1600, 1067)
    assert not img.getexif()
    assert len(data) < len(raw)
    assert ev.type == "attachment.added"
    assert ev.clerk == "李文书"
    assert ev.data == {
        "sha256": att.sha256,
        "size": len(data),
        "mime": "image/jpeg",
        "name": "身份证.jpg",
        "material_code": "ID",
    }


def test_png_with_transparency_becomes_jpeg(node_app, receipt: str) -> None:
    img = Image.new("RGBA", (800, 600), (255, 0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    with database.connection_context():
        att = add_attachment(receipt, "site.png", out.getvalue(), "李文书")
    stored = Image.open(attachments.path_for(att.sha256, base=Path(node_app.config["DATA_DIR"])))
    assert stored.format == "JPEG"
    assert stored.size == (800, 600)
    pixel = stored.getpixel((10, 10))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 240  # transparent became white, not black


def test_same_image_twice_is_one_attachment(node_app, receipt: str) -> None:
    raw = photo(400, 300)
    with database.connection_context():
        a = add_attachment(receipt, "a.jpg", raw, "李文书")
        b = add_attachment(receipt, "b.jpg", raw, "李文书")
        assert a.id == b.id
        assert Event.select().where(Event.type == "attachment.added").count() == 1


def _big_pixels() -> bytes:
    out = io.BytesIO()
    Image.new("1", (10000, 7000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"%PDF-1.4 not really an image" * 10, "scan.jpg", "不是可识别的图片"),
        (photo(400, 300)[:2000], "cut.jpg", "不是可识别的图片"),
        (b"", "empty.jpg", "空文件"),
        (b"\xff\xd8\xff" + b"0" * (15 * 1024 * 1024 + 1), "huge.jpg", "附件过大"),
        ("pixels", "big.png", "像素过多"),
    ],
    ids=["not-image-named-jpg", "truncated-jpeg", "empty", "over-15MB", "too-many-pixels"],
)
def test_bad_input_is_refused_and_nothing_stored(node_app, receipt: str, data, name: str, message: str) -> None:
    if data == "pixels":
        data = _big_pixels()
    with database.connection_context():
        before = Event.select().count()
        with pytest.raises(AttachmentError) as err:
            add_attachment(receipt, name, data, "李文书")
        assert message in err.value.message
        assert Event.select().count() == before
        assert Attachment.select().count() == 0
    assert stored_files(node_app) == []


def test_unknown_receipt_code_is_refused(node_app) -> None:
    with database.connection_context():
        with pytest.raises(AttachmentError) as err:
            add_attachment("22-0000-0000", "a.jpg", photo(100, 100), "李文书")
    assert "没有这个回执码" in err.value.message
    assert stored_files(node_app) == []


def test_a_file_name_loses_its_control_characters(node_app, receipt: str) -> None:
    """The name travels in the attachment.added event, and the hub refuses a batch holding U+0000 whole."""
    with database.connection_context():
        att = add_attachment(receipt, "扫描\x00件\x1f.jpg", photo(800, 600), "李文书")
        assert Event.get(Event.event_id == att.event_id).data["name"] == "扫描件.jpg"
