"""A signed `hello` counts once and only while fresh, so a captured one cannot be replayed for history.

A hello already carries a signed `nonce` and `node_clock`. The hub accepts it only when the
clock is within WINDOW of the hub's and the nonce has not been seen from that node within the
window; nonces are forgotten once the window has passed, because the clock check refuses them
then. No extra round trip: a node whose clock is off gets a signed `stale_hello` refusal with
the hub's time (`hub_time`) and signs a new hello on the hub's clock (node/hubkey.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import peewee

from shared import protocol

from .db import database
from .models import HelloNonce, Node

WINDOW = timedelta(minutes=5)


def stale(reason: str) -> protocol.ProtocolError:
    """The refusal for a hello that is too old, too new or seen before."""
    return protocol.error("stale_hello", detail=reason)


def check_hello(node: Node, body: dict[str, Any]) -> None:
    """Accept a signed hello once, within WINDOW of the hub clock; ProtocolError `stale_hello` otherwise.

    Call only after the signature is verified, so nobody can use up another node's nonces.
    """
    nonce = body.get("nonce")
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 64:
        raise stale("nonce missing")
    try:
        clock = protocol.parse_iso(str(body.get("node_clock"))).replace(tzinfo=None)
    except (ValueError, TypeError, OverflowError):
        raise stale("node_clock missing") from None
    # The clock responses state as hub_time (not hub.clock, which tests pin to walk deadlines).
    hub_now = protocol.utcnow().replace(tzinfo=None)
    try:
        off = abs(clock - hub_now)
    except OverflowError:
        raise stale("node_clock out of range") from None
    if off > WINDOW:
        raise stale("node_clock outside the window")
    with database.atomic():
        HelloNonce.delete().where(HelloNonce.seen_at < hub_now - 2 * WINDOW).execute()
        try:
            with database.atomic():
                HelloNonce.create(node_id=node.node_id, nonce=nonce, seen_at=hub_now)
        except peewee.IntegrityError:
            raise stale("nonce seen before") from None
