"""Scans and photos of documents: checked and shrunk with Pillow, kept by hash, uploaded in resumable chunks."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import protocol
from shared.chunks import ATTACHMENT_PATH, CHUNK_BYTES, MAX_ATTACHMENT_BYTES, chunk_body

from . import meta
from .capture import add_event, now
from .db import database
from .models import Attachment, Event, Request
from .hubkey import verify_hub
from .transport import RefusedError, Transport, TrustError
from shared.msgid import N_
from shared.validation import has_control

MAX_SIDE = 1600
JPEG_QUALITY = 80
MAX_PIXELS = 60_000_000  # a 60-megapixel image is already beyond any phone or scanner we expect
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"}


class AttachmentError(Exception):
    """An attachment refused before anything was stored; `message` is for the clerk."""

    def __init__(self, message: str, code: str = "bad_attachment"):
        super().__init__(message)
        self.message = message
        self.code = code


def data_dir() -> Path:
    """The node's data directory: where its database file lives."""
    return Path(database.obj.database).parent


def path_for(sha: str, base: Path | None = None) -> Path:
    """Where an attachment's bytes are kept, by their hash."""
    return (base or data_dir()) / "attachments" / sha[:2] / f"{sha}.jpg"


def normalise_image(data: bytes) -> bytes:
    """A JPEG of at most MAX_SIDE px on its long side, upright, without EXIF; AttachmentError if not an image."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentError(
            N_(
                "附件过大（%(size)s MB），单个附件不能超过 %(max)s MB",
                size=f"{len(data) / 1024 / 1024:.1f}",
                max=MAX_ATTACHMENT_BYTES // 1024 // 1024,
            ),
            "too_large",
        )
    if not data:
        raise AttachmentError(N_("附件是空文件"), "not_image")
    # Pillow is loaded only when a scan arrives: an idle node should not carry it.
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if probe.width * probe.height > MAX_PIXELS:
                    raise AttachmentError(N_("图片像素过多，请降低扫描分辨率后再添加"), "too_large")
                probe.verify()
            img: Image.Image = Image.open(io.BytesIO(data))
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: far less memory on a 2 GB PC.
            img.draft("RGB", (MAX_SIDE, MAX_SIDE))
            img.load()
    except AttachmentError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentError(N_("图片像素过多，请降低扫描分辨率后再添加"), "too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise AttachmentError(N_("文件不是可识别的图片（只接受照片或扫描件，如 JPG、PNG）"), "not_image") from exc
    if fmt not in ACCEPTED_FORMATS:
        raise AttachmentError(N_("不支持的图片格式，请使用 JPG 或 PNG"), "not_image")
    # Phones record rotation in EXIF; apply it before EXIF is dropped.
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        flat = Image.new("RGB", img.size, "white")
        flat.paste(img, mask=img.split()[-1])
        img = flat
    elif img.mode != "RGB":
        img = img.convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def add_attachment(
    receipt_code: str, filename: str, data: bytes, clerk: str, material_code: str | None = None
) -> Attachment:
    """Check, shrink and store an image for a request and queue its attachment.added event."""
    req = Request.get_or_none(Request.receipt_code == receipt_code)
    if req is None:
        raise AttachmentError(N_("没有这个回执码"), "unknown_request")
    if req.state == "held":
        raise AttachmentError(N_("该申请暂存在本机、尚未提交，请先提交再添加附件"), "held")
    if req.purged:
        raise AttachmentError(N_("该申请的个人资料已按规定清除，不能再添加附件"), "purged")
    jpeg = normalise_image(data)
    sha = hashlib.sha256(jpeg).hexdigest()
    existing = Attachment.get_or_none((Attachment.sha256 == sha) & (Attachment.request_id == req.request_id))
    if existing is not None:
        return existing
    # The name travels in the event (the hub refuses a batch holding U+0000 whole): control characters go.
    name = "".join(c for c in os.path.basename(str(filename).replace("\\", "/")) if not has_control(c))
    name = name.strip()[:200] or N_("附件.jpg")
    _write_once(path_for(sha), jpeg)
    with database.atomic():
        event = add_event(
            receipt_code,
            "attachment.added",
            clerk,
            {
                "sha256": sha,
                "size": len(jpeg),
                "mime": "image/jpeg",
                "name": name,
                "material_code": material_code,
            },
        )
        return Attachment.create(
            sha256=sha,
            request_id=req.request_id,
            event_id=event.event_id,
            size=len(jpeg),
            name=name,
            material_code=material_code,
            created_at=now(),
        )


def for_request(request_id: str) -> list[Attachment]:
    """A request's attachments, oldest first."""
    return list(Attachment.select().where(Attachment.request_id == request_id).order_by(Attachment.id))


def ready_to_upload() -> list[Attachment]:
    """Attachments whose event the hub has accepted but whose bytes it does not yet hold."""
    return list(
        Attachment.select()
        .join(Event, on=(Attachment.event_id == Event.event_id))
        .where(Attachment.uploaded_at.is_null() & (Event.result == "ok"))
        .order_by(Attachment.id)
    )


def pending_summary() -> tuple[int, int]:
    """(count, bytes) of attachments the hub does not hold yet, for the sync panel."""
    rows = list(Attachment.select(Attachment.sha256, Attachment.size).where(Attachment.uploaded_at.is_null()))
    unique = {r.sha256: r.size for r in rows}
    return len(unique), sum(unique.values())


def mark_uploaded(sha: str) -> None:
    """The hub holds these bytes (every request that uses them)."""
    Attachment.update(uploaded_at=now()).where((Attachment.sha256 == sha) & Attachment.uploaded_at.is_null()).execute()


def _exchange(transport: Transport, key: Ed25519PrivateKey, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Send one signed attachment message and verify the hub's signed answer."""
    status, raw = transport.exchange(ATTACHMENT_PATH, protocol.seal(key, body))
    try:
        resp, sig = protocol.open_envelope(raw)
    except protocol.ProtocolError as exc:
        raise RefusedError(N_("中心回复无法识别（HTTP %(status)s）", status=status), "bad_response") from exc
    if not verify_hub(resp, sig, raw):
        raise TrustError(N_("中心回复的签名无效，未采用（可能被冒充或篡改）"), "bad_hub_signature")
    if resp.get("request_hash") not in (protocol.body_hash(body), ""):
        raise TrustError(N_("中心回复与本次请求不对应，未采用"), "mismatched_response")
    return status, resp


def upload(transport: Transport, key: Ed25519PrivateKey, att: Attachment, chunk: int = CHUNK_BYTES) -> bool:
    """Send an attachment from wherever the hub stands; True once the hub holds and has verified it."""
    with database.connection_context():
        node_id = meta.get("node_id")
    data = path_for(att.sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != att.sha256:
        raise RefusedError(N_("本机附件文件已损坏：%(name)s", name=att.name), "local_corrupt")
    # Ask first: after a dropped connection the hub may already hold most of the file.
    with database.connection_context():
        _, resp = _exchange(transport, key, chunk_body(node_id, att.sha256, 0))
    restarted = False
    while True:
        err = resp.get("error")
        if err:
            if err.get("code") == "unknown_attachment":
                return False  # the hub has not ingested the event yet; try next round
            if err.get("code") == "hash_mismatch" and not restarted:
                restarted = True  # the hub discarded a corrupted partial file; send it all once more
                offset = 0
            else:
                raise RefusedError(err.get("message", N_("中心拒收附件")), err.get("code", "error"))
        elif resp.get("complete"):
            with database.connection_context(), database.atomic():
                mark_uploaded(att.sha256)
            return True
        else:
            offset = int(resp.get("offset", 0))
        if offset >= len(data):
            raise RefusedError(N_("中心记录的附件大小与本机不符"), "size_mismatch")
        with database.connection_context():
            _, resp = _exchange(transport, key, chunk_body(node_id, att.sha256, offset, data[offset : offset + chunk]))


def upload_pending(transport: Transport, key: Ed25519PrivateKey) -> int:
    """Upload every accepted attachment the hub lacks; returns how many completed."""
    with database.connection_context():
        todo = ready_to_upload()
    done = 0
    seen: set[str] = set()
    for att in todo:
        if att.sha256 in seen:
            continue
        seen.add(att.sha256)
        if upload(transport, key, att):
            done += 1
    return done
