"""Attachments at the hub: expected by their attachment.added event, received in resumable chunks, kept by hash.

A node asks with a signed ``attachment`` message where to continue (``offset``) and
sends the bytes from there; the hub appends only at its own offset, so a dropped
connection resumes rather than restarts.  When the last byte arrives the SHA-256
must match the announced one, or the partial file is discarded and refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import encoding, protocol
from shared.chunks import MAX_ATTACHMENT_BYTES, MAX_CHUNK_BYTES

from .clock import now
from .db import database
from .models import Attachment, Case, Node

SHA_RE = re.compile(r"[0-9a-f]{64}")

ERRORS = {
    "unknown_attachment": (404, "中心没有这个附件的登记，请先同步申请记录"),
    "hash_mismatch": (422, "附件内容与登记的校验值不符，中心已丢弃，将重新上传"),
    "bad_chunk": (400, "附件数据块格式错误"),
}


class AttachmentRefusal(Exception):
    """An attachment.added event the hub will not record; code and Chinese message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _error(code: str, **extra: Any) -> protocol.ProtocolError:
    status, message = ERRORS[code]
    return protocol.ProtocolError(code, status, message, extra)


def record_expected(case: Case, data: dict[str, Any]) -> Attachment:
    """Remember an attachment announced by an event (ingest calls this inside the batch transaction)."""
    sha = data.get("sha256")
    size = data.get("size")
    if not isinstance(sha, str) or not SHA_RE.fullmatch(sha):
        raise AttachmentRefusal("bad_attachment", "附件校验值格式错误")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_ATTACHMENT_BYTES:
        raise AttachmentRefusal("bad_attachment", "附件大小不正确（须大于0且不超过15MB）")
    existing = Attachment.get_or_none((Attachment.sha256 == sha) & (Attachment.case == case))
    if existing is not None:
        return existing
    return Attachment.create(
        sha256=sha, case=case, size=size, mime=str(data.get("mime", ""))[:40], name=str(data.get("name", ""))[:200],
        material_code=(str(data["material_code"])[:40] if data.get("material_code") else None),
        received=False,
    )


def store_dir(data_dir: str | Path) -> Path:
    """Where received attachments live."""
    return Path(data_dir) / "attachments"


def stored_path(data_dir: str | Path, sha: str) -> Path:
    """The file of a complete attachment, named by its hash."""
    return store_dir(data_dir) / sha[:2] / sha


def _partial_path(data_dir: str | Path, node_id: str, sha: str) -> Path:
    return store_dir(data_dir) / "partial" / f"{node_id}-{sha}.part"


def expected_for(node: Node, sha: str) -> list[Attachment]:
    """The attachment rows this node announced under that hash."""
    return list(Attachment.select().join(Case).where((Attachment.sha256 == sha) & (Case.node == node)))


def _mark_received(sha: str) -> None:
    with database.atomic():
        Attachment.update(received=True, received_at=now()).where(
            (Attachment.sha256 == sha) & ~Attachment.received
        ).execute()


def _finish(data_dir: str | Path, partial: Path, sha: str) -> None:
    """Move a complete, verified file into place durably."""
    final = stored_path(data_dir, sha)
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, final)
    _mark_received(sha)


def store_complete(data_dir: str | Path, node: Node, sha: str, data: bytes) -> bool:
    """Store a whole attachment (from a USB bundle) if announced and its hash matches; True when stored."""
    if not expected_for(node, sha) or hashlib.sha256(data).hexdigest() != sha:
        return False
    final = stored_path(data_dir, sha)
    if not final.exists():
        partial = _partial_path(data_dir, node.node_id, sha)
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        _finish(data_dir, partial, sha)
    else:
        _mark_received(sha)
    return True


def _append(data_dir: str | Path, node: Node, sha: str, size: int, offset: int, chunk: bytes) -> int:
    """Write the part of chunk beyond what we hold; return how many bytes we hold now."""
    partial = _partial_path(data_dir, node.node_id, sha)
    partial.parent.mkdir(parents=True, exist_ok=True)
    held = partial.stat().st_size if partial.exists() else 0
    # Only bytes that continue exactly where we stand are taken: a gap waits, a repeat is ignored.
    if chunk and offset <= held < offset + len(chunk):
        fresh = chunk[held - offset:]
        if held + len(fresh) > size:
            partial.unlink(missing_ok=True)
            raise _error("hash_mismatch", offset=0, detail="more bytes than announced")
        with open(partial, "ab") as fh:
            fh.write(fresh)
            fh.flush()
            os.fsync(fh.fileno())
        held += len(fresh)
    if held == size:
        digest = hashlib.sha256()
        with open(partial, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 16), b""):
                digest.update(block)
        if digest.hexdigest() != sha:
            partial.unlink(missing_ok=True)
            raise _error("hash_mismatch", offset=0)
        _finish(data_dir, partial, sha)
    return held


def handle_chunk(raw: bytes, hub_key: Ed25519PrivateKey, data_dir: str | Path) -> tuple[int, bytes]:
    """Take one signed attachment message; answer, signed, how many bytes the hub holds."""
    request_hash = encoding.digest(raw)
    node_id = ""
    sha = ""
    try:
        body, sig = protocol.open_envelope(raw)
        node_id = str(body.get("node_id", ""))[:40]
        request_hash = protocol.body_hash(body)
        node = Node.get_or_none(Node.node_id == node_id)
        if node is None:
            raise protocol.error("unknown_node")
        if node.status != "active":
            raise protocol.error("revoked")
        if not protocol.verify_body(node.pubkey, body, sig):
            raise protocol.error("bad_signature")
        sha = body.get("sha256")
        offset = body.get("offset")
        if body.get("kind") != "attachment" or not isinstance(sha, str) or not SHA_RE.fullmatch(sha):
            raise _error("bad_chunk")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise _error("bad_chunk")
        try:
            chunk = base64.b64decode(str(body.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _error("bad_chunk") from exc
        if len(chunk) > MAX_CHUNK_BYTES:
            raise protocol.error("too_large", limit=MAX_CHUNK_BYTES)
        rows = expected_for(node, sha)
        if not rows:
            raise _error("unknown_attachment")
        size = rows[0].size
        if stored_path(data_dir, sha).exists():
            _mark_received(sha)
            held = size
        else:
            held = _append(data_dir, node, sha, size, offset, chunk)
        out = _answer(node_id, request_hash, sha, held, size)
        return 200, protocol.seal(hub_key, out)
    except protocol.ProtocolError as exc:
        out = _answer(node_id, request_hash, sha, int(exc.extra.get("offset", 0)), 0, exc.to_body())
        return exc.status, protocol.seal(hub_key, out)


def _answer(node_id: str, request_hash: str, sha: str, held: int, size: int,
            error_body: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": protocol.PROTOCOL_VERSION,
        "kind": "attachment_status",
        "node_id": node_id,
        "request_hash": request_hash,
        "hub_time": protocol.iso(protocol.utcnow()),
        "sha256": sha,
        "offset": held,
        "size": size,
        "complete": bool(size) and held == size,
    }
    if error_body is not None:
        body["error"] = error_body
    return body
