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
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import messages, protocol
from shared.messages import MAX_CHUNK_BYTES
from shared.msgid import N_

from .clock import now
from .db import database
from .models import Attachment, Case, Node
from .nodeauth import Authenticated, authenticate, describe

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


# What the clerk reads when an announcement does not fit its declaration, by field.
_ANNOUNCEMENT_MESSAGES = {
    "sha256": N_("附件校验值格式错误"),
    "size": N_("附件大小不正确（须大于0且不超过15MB）"),
}


def record_expected(case: Case, data: dict[str, Any]) -> Attachment:
    """Remember an attachment announced by an event (ingest calls this inside the batch transaction)."""
    try:
        announced = messages.convert(data, messages.AttachmentAddedData)
    except messages.MessageError as exc:
        raise AttachmentRefusal(
            "bad_attachment",
            _ANNOUNCEMENT_MESSAGES.get(exc.field.split(".")[0], N_("附件登记格式错误（%(field)s）", field=exc.field)),
        ) from exc
    existing = Attachment.get_or_none((Attachment.sha256 == announced.sha256) & (Attachment.case == case))
    if existing is not None:
        return existing
    return Attachment.create(
        sha256=announced.sha256,
        case=case,
        size=announced.size,
        mime=announced.mime,
        name=announced.name,
        material_code=announced.material_code or None,
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


def _mark_received(rows: list[Attachment]) -> None:
    """Only the rows of the node whose bytes were just verified: a hash alone completes nothing."""
    with database.atomic():
        Attachment.update(received=True, received_at=now()).where(
            Attachment.id.in_([r.id for r in rows]) & ~Attachment.received
        ).execute()


def _finish(data_dir: str | Path, partial: Path, sha: str, rows: list[Attachment]) -> None:
    """Move a complete, verified file into place durably and mark this node's rows received."""
    final = stored_path(data_dir, sha)
    if final.exists():
        # Another village sent the same bytes before: this node proved it holds them too.
        partial.unlink()
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, final)
    _mark_received(rows)


def store_complete(data_dir: str | Path, node: Node, sha: str, data: bytes) -> bool:
    """Store a whole attachment (from a USB bundle) if announced and its hash matches; True when stored."""
    rows = expected_for(node, sha)
    if not rows or hashlib.sha256(data).hexdigest() != sha:
        return False
    partial = _partial_path(data_dir, node.node_id, sha)
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(data)
    _finish(data_dir, partial, sha, rows)
    return True


def _append(data_dir: str | Path, node: Node, sha: str, rows: list[Attachment], offset: int, chunk: bytes) -> int:
    """Write the part of chunk beyond what we hold; return how many bytes we hold now."""
    size = rows[0].size
    partial = _partial_path(data_dir, node.node_id, sha)
    partial.parent.mkdir(parents=True, exist_ok=True)
    held = partial.stat().st_size if partial.exists() else 0
    # Only bytes that continue exactly where we stand are taken: a gap waits, a repeat is ignored.
    if chunk and offset <= held < offset + len(chunk):
        fresh = chunk[held - offset :]
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
        _finish(data_dir, partial, sha, rows)
    return held


def handle_chunk(raw: bytes, hub_key: Ed25519PrivateKey, data_dir: str | Path) -> tuple[int, bytes]:
    """Take one signed attachment message; answer, signed, how many bytes the hub holds."""
    auth: Authenticated[messages.AttachmentChunk] | None = None
    sha = ""
    try:
        auth = authenticate(raw, messages.decode_chunk)
        node, msg = auth.node, auth.message
        sha = msg.sha256
        try:
            chunk = base64.b64decode(msg.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _error("bad_chunk", field="data") from exc
        if len(chunk) > MAX_CHUNK_BYTES:
            raise protocol.error("too_large", limit=MAX_CHUNK_BYTES)
        rows = expected_for(node, sha)
        if not rows:
            raise _error("unknown_attachment")
        size = rows[0].size
        # Complete for this node's cases only once this node sent the bytes, never by the hash alone.
        if any(r.received for r in rows):
            _mark_received(rows)
            held = size
        else:
            held = _append(data_dir, node, sha, rows, msg.offset, chunk)
        out = _answer(node.node_id, auth.request_hash, sha, held, size)
        return 200, protocol.seal(hub_key, out)
    except protocol.ProtocolError as exc:
        node_id, request_hash, _ = (auth.node.node_id, auth.request_hash, 0) if auth else describe(raw)
        out = _answer(node_id, request_hash, sha, int(exc.extra.get("offset", 0)), 0, exc.to_body())
        return exc.status, protocol.seal(hub_key, out)


def _answer(
    node_id: str, request_hash: str, sha: str, held: int, size: int, error_body: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = protocol.hub_header("attachment_status", node_id, request_hash)
    body["sha256"] = sha
    body["offset"] = held
    body["size"] = size
    body["complete"] = bool(size) and held == size
    if error_body is not None:
        body["error"] = error_body
    return body
