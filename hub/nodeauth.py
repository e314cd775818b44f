"""Node authentication at the trust boundary: parse, find the node, check its status, verify — once.

Sync messages, attachment chunks and USB bundles all come through here, so a node is
trusted by the same rule whatever carried its bytes.  The body is validated against its
declaration (shared/messages.py) before the database is asked anything; the signature
covers canonical(body), read from the bytes as they arrived when the envelope is canonical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from shared import encoding, messages, protocol

from .db import one_by
from .models import Node

M = TypeVar("M")


@dataclass(frozen=True)
class Authenticated(Generic[M]):
    """A message whose sender is an active node and whose signature verified."""

    node: Node
    body: dict[str, Any]  # as it arrived: what is stored and hashed
    message: M  # the same body as its declared structure
    request_hash: str
    version: int


def trusted_node(node_id: str, verify: Callable[[Node], bool]) -> Node:
    """The active node with this id whose key `verify` accepts; unknown_node, revoked or bad_signature otherwise."""
    node: Node | None = one_by(Node.node_id, node_id)
    if node is None:
        raise protocol.error("unknown_node")
    if node.status != "active":
        if node.status == "revoked" and verify(node):
            note_revoked_attempt(node)
        raise protocol.error("revoked")
    if not verify(node):
        raise protocol.error("bad_signature")
    return node


REVOKED_ATTEMPT = "node.revoked_attempt"


def note_revoked_attempt(node: Node) -> None:
    """A revoked key still signing (a stolen PC or township server): audited for the fleet page's alerts.

    Only a message the revoked key really signed counts, and at most once an hour per node: the
    client keeps retrying every few minutes, and the supervisor needs the fact, not each try.
    """
    from . import audit
    from .clock import now
    from .models import AuditEntry

    since = now() - timedelta(hours=1)
    recent = AuditEntry.select().where(
        (AuditEntry.actor == node.node_id) & (AuditEntry.action == REVOKED_ATTEMPT) & (AuditEntry.at > since)
    )
    if not recent.exists():
        audit.record(node.node_id, REVOKED_ATTEMPT, node.village.name, {})


def authenticate(raw: bytes, decode: Callable[[dict[str, Any]], M]) -> Authenticated[M]:
    """Parse signed envelope bytes from a node and verify them; ProtocolError (nothing touched) if not."""
    body, sig = protocol.parse_envelope(raw)
    protocol.check_version(body)
    message = protocol.declared(body, decode)
    # The body's bytes as received when the envelope is canonical (every node's is): not encoded
    # again; they name the message and are what the signature covers (protocol.signed_bytes).
    framed = protocol.framed_body(raw, sig)
    signed: list[bytes | memoryview] = []

    def verify(node: Node) -> bool:
        data = protocol.signed_bytes(node.pubkey, framed, body, sig)
        signed[:] = [data] if data is not None else []
        return data is not None

    node = trusted_node(body["node_id"], verify)
    # After the signature, as a refusal of what the declarations let through: a sender the hub
    # does not know is told so first, and only a node's own messages are walked.
    protocol.refuse_nul(body, raw)
    return Authenticated(node, body, message, encoding.digest(signed[0]), protocol.answer_version(body))


def describe(raw: bytes) -> tuple[str, str, int]:
    """Best-effort (node_id, request_hash, version) of a message that was refused, for the signed refusal."""
    try:
        body, _ = protocol.parse_envelope(raw)
    except protocol.ProtocolError:
        return "", encoding.digest(raw), protocol.PROTOCOL_VERSION
    node_id = body.get("node_id")
    try:
        request_hash = protocol.body_hash(body)
    except (UnicodeEncodeError, ValueError):
        request_hash = encoding.digest(raw)
    return (node_id[: messages.ID_MAX] if isinstance(node_id, str) else "", request_hash, protocol.answer_version(body))
