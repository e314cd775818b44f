"""Resumable attachment uploads: the message both sides agree on, and the sizes.

The node sends ``{"kind": "attachment", "sha256", "offset", "data"}`` signed like a sync
message; empty data asks the hub how many bytes it already holds.  The hub answers
``{"kind": "attachment_status", "offset", "size", "complete"}`` signed by its key.
"""

from __future__ import annotations

import base64
from typing import Any

from . import protocol
from .messages import MAX_ATTACHMENT_BYTES, MAX_CHUNK_BYTES

__all__ = ["ATTACHMENT_PATH", "CHUNK_BYTES", "MAX_ATTACHMENT_BYTES", "MAX_CHUNK_BYTES", "chunk_body"]

ATTACHMENT_PATH = "/api/v1/attachments"
CHUNK_BYTES = 64 * 1024


def chunk_body(node_id: str, sha: str, offset: int, data: bytes = b"") -> dict[str, Any]:
    """A node's attachment message: bytes from offset (empty data asks for the hub's offset)."""
    body = protocol.node_header("attachment", node_id)
    body["nonce"] = protocol.new_id()
    body["sha256"] = sha
    body["offset"] = offset
    body["data"] = base64.b64encode(data).decode("ascii")
    return body
