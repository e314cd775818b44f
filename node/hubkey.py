"""The hub key this node pinned at enrolment, and taking up a rotated key the old one signed."""

from __future__ import annotations

import logging
from typing import Any

from shared import protocol, signing

from . import meta
from .db import database

log = logging.getLogger("daiban.node.hubkey")


def verify_hub(body: dict[str, Any], sig: str) -> bool:
    """True when the hub signed body with the pinned key, or with a key the pinned one handed over to.

    A new key is pinned only when every rotation step from the pinned key is signed by its
    predecessor and the response itself verifies under the new key.
    """
    pinned = meta.get("hub_pubkey", "")
    if protocol.verify_body(pinned, body, sig):
        return True
    new = protocol.follow_rotations(pinned, body.get("key_rotation"))
    if new == pinned or not protocol.verify_body(new, body, sig):
        return False
    with database.atomic():
        meta.put("hub_pubkey", new)
        meta.put("hub_key_rotated_at", protocol.iso(protocol.utcnow()))
    log.warning("hub key rotated: %s -> %s", signing.fingerprint(pinned), signing.fingerprint(new))
    return True
