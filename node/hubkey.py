"""The hub key this node pinned at enrolment, and taking up a rotated key the old one signed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from shared import protocol, signing

from . import meta
from .db import database

log = logging.getLogger("daiban.node.hubkey")


def verify_hub(body: dict[str, Any], sig: str, raw: bytes | None = None) -> bool:
    """True when the hub signed body with the pinned key, or with a key the pinned one handed over to.

    A new key is pinned only when every rotation step from the pinned key is signed by its
    predecessor and the response itself verifies under the new key. `raw`: the envelope's bytes
    as received; when they are the canonical frame the body's bytes are checked as they came, not
    encoded again (protocol.signed_bytes: the hub, too, signs only canonical bytes).
    """
    framed = protocol.framed_body(raw, sig) if raw is not None else None

    def signed_by(key: str) -> bool:
        return protocol.signed_bytes(key, framed, body, sig) is not None

    pinned = meta.get("hub_pubkey", "")
    if signed_by(pinned):
        return True
    new = protocol.follow_rotations(pinned, body.get("key_rotation"))
    if new == pinned or not signed_by(new):
        return False
    with database.atomic():
        meta.put("hub_pubkey", new)
        meta.put("hub_key_rotated_at", protocol.iso(protocol.utcnow()))
    log.warning("hub key rotated: %s -> %s", signing.fingerprint(pinned), signing.fingerprint(new))
    return True


# A hello is refused unless its signed clock is near the hub's (hub/freshness.py). A village PC's
# clock may be far off, so after such a refusal the node signs its retry on the hub's clock.
STALE_HELLO = "stale_hello"
_OFFSET_KEY = "hub_clock_offset_s"


def note_hub_time(body: dict[str, Any]) -> None:
    """Remember how far the hub's clock (from a verified response) is from ours."""
    try:
        hub_time = protocol.parse_iso(str(body.get("hub_time")))
        offset = int((hub_time - protocol.utcnow()).total_seconds())
    except (ValueError, TypeError, OverflowError):
        return
    with database.atomic():
        meta.put(_OFFSET_KEY, offset)


def hub_clock() -> datetime:
    """Our clock moved by the last offset the hub showed us: what a retried hello is signed with."""
    try:
        return protocol.utcnow() + timedelta(seconds=int(meta.get(_OFFSET_KEY, 0)))
    except (ValueError, TypeError, OverflowError):
        return protocol.utcnow()
