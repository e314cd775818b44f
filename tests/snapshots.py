"""Snapshots of stored state, for tests that prove a refused message or action changed nothing."""

from __future__ import annotations

from typing import Any


def hub_sync_state() -> tuple[Any, ...]:
    """Everything on the hub a refused sync message must leave untouched (call inside a connection)."""
    from hub.models import Batch, Case, HubEvent, Node, NodeEvent

    nodes = [(n.node_id, n.last_seq, n.last_hash, n.out_seq, n.status) for n in Node.select().order_by(Node.node_id)]
    return (
        nodes,
        Batch.select().count(),
        NodeEvent.select().count(),
        Case.select().count(),
        HubEvent.select().count(),
        sorted((c.receipt_code, c.state) for c in Case.select()),
    )
