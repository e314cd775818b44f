"""The hub's epoch and what a loss of its database's tail leaves behind (docs/protocol.md).

The epoch is a random id kept in the settings table. It is drawn when the database is
restored from a backup (`daiban hub restore`), when an operator promotes a standby
(`daiban hub new-epoch`), and when a node shows the hub has lost entries of its
downstream log (its cursor is past the hub's end). Every answer carries it; a node that
sees a new one rebuilds its copy of the village's log from the hub's current one.

A node whose `hello` says it had more events acknowledged than the hub now holds marks
a lost tail; the batches that later fill it are recorded as re-sent, for the fleet page.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import audit, settings
from .clock import now
from .db import database
from .models import AuditEntry, Node, Setting

EPOCH_KEY = "epoch"
EPOCH_AT_KEY = "epoch_at"
# After a restore, nodes report cursors past the hub's end until they rebuild: that is explained
# by the new epoch and must not draw another (each one makes every village rebuild).
REWIND_QUIET = timedelta(days=7)
LOST_PREFIX = "lost_tail:"
RESTORE_ACTIONS = ("hub.epoch", "sync.lost_tail", "sync.resent")


def current_epoch() -> str:
    """The hub's epoch, drawn on first use."""
    return current_epoch_sent()()


def current_epoch_sent() -> Callable[[], str]:
    """`current_epoch`'s read sent now; calling the result reads it (hub.db.pipelined: with others)."""
    stored = settings.get_sent(EPOCH_KEY)
    return lambda: stored() or settings.put_once(EPOCH_KEY, secrets.token_hex(8))


def new_epoch(
    reason: str, actor: str = "system", detail: dict[str, Any] | None = None, replacing: str | None = None
) -> str:
    """Draw a new epoch and audit why; with `replacing`, only if the epoch is still that one.

    The condition keeps two workers that see the same rewind from drawing twice.
    """
    value = secrets.token_hex(8)
    with database.atomic():
        if replacing is not None:
            changed = (
                Setting.update(value=value).where((Setting.key == EPOCH_KEY) & (Setting.value == replacing)).execute()
            )
            if not changed:
                return current_epoch()
        else:
            settings.put(EPOCH_KEY, value)
        settings.put(EPOCH_AT_KEY, now().isoformat())
        audit.record(actor, "hub.epoch", reason, {"epoch": value, **(detail or {})})
    return value


def check_rewound(node: Node, cursor: int, epoch: str) -> str:
    """A node that received entries past the hub's end proves the hub lost them: new epoch.

    Not within REWIND_QUIET of the last new epoch: nodes that have not rebuilt yet are expected
    to be past the end then (and at_cursor makes each of them rebuild).
    """
    if cursor <= node.out_seq:
        return epoch
    drawn = settings.get(EPOCH_AT_KEY)
    if drawn is not None and now() - datetime.fromisoformat(drawn) < REWIND_QUIET:
        return epoch
    return new_epoch(
        "rewound",
        node.node_id,
        {"village": node.village.name, "node_cursor": cursor, "out_seq": node.out_seq},
        replacing=epoch,
    )


def note_hello(node: Node, acked_seq: int) -> None:
    """The node had events up to acked_seq acknowledged; if the hub holds fewer, it lost them."""
    if acked_seq <= node.last_seq:
        return
    key = _lost_key(node)
    if settings.get(key) is not None:
        return
    value = {"from": node.last_seq + 1, "to": acked_seq, "at": now().isoformat(), "epoch": current_epoch()}
    with database.atomic():
        settings.put_once(key, json.dumps(value))
        audit.record(
            node.node_id, "sync.lost_tail", node.village.name, {"first_seq": value["from"], "last_seq": acked_seq}
        )


def _lost_key(node: Node) -> str:
    """The setting that holds the node's lost tail."""
    return LOST_PREFIX + node.node_id


def lost_tail_sent(node: Node) -> Callable[[], str | None]:
    """The node's lost tail (its setting's value, or None): the read sent now, the value read by calling
    the result (hub.db.pipelined: with others)."""
    return settings.get_sent(_lost_key(node))


def note_ingested(
    node: Node, body: dict[str, Any], ack: dict[str, Any], lost_tail: Callable[[], str | None] | None = None
) -> None:
    """Record a batch that fills part of a lost tail (caller holds the batch's transaction).

    `lost_tail`: lost_tail_sent's reader, when the caller sent the read ahead in the same transaction.
    """
    value = (lost_tail or lost_tail_sent(node))()
    if value is None:
        return
    lost = json.loads(value)
    if body["first_seq"] > lost["to"]:
        return
    events = body.get("events") or []
    codes = sorted(
        {
            str(ev["data"].get("receipt_code", ""))[:12]
            for ev in events
            if ev.get("type") == "request.captured" and isinstance(ev.get("data"), dict)
        }
        - {""}
    )
    audit.record(
        node.node_id,
        "sync.resent",
        node.village.name,
        {
            "first_seq": body["first_seq"],
            "last_seq": body["last_seq"],
            "events": len(events),
            "accepted": ack.get("accepted", 0),
            "receipt_codes": codes[:50],
        },
    )
    if body["last_seq"] >= lost["to"]:
        settings.delete(_lost_key(node))


def recent(limit: int = 50) -> list[AuditEntry]:
    """The newest restores, rewinds, lost tails and re-sent batches, newest first."""
    return list(
        AuditEntry.select().where(AuditEntry.action.in_(RESTORE_ACTIONS)).order_by(AuditEntry.seq.desc()).limit(limit)
    )
