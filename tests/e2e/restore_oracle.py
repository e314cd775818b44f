"""The content oracle: a node's copy of everything the hub decided, compared entry by entry.

Cursors and chain heads can agree while contents differ (a hub restored from an older
backup re-uses numbers), so this compares what the clerk and the villager see: every
downstream entry's body and every request's state and deadline, at the node and at the hub.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from shared import protocol, states

HubQuery = Callable[[str, tuple], list[tuple]]


def hub_query_for(data_dir: Path, db_url: str | None) -> HubQuery:
    """A function running SQL (with ? placeholders) on the hub's database, whichever engine."""

    def run(sql: str, args: tuple = ()) -> list[tuple]:
        if db_url:
            import psycopg

            with psycopg.connect(db_url) as pg, pg.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), args)
                return cur.fetchall()
        with sqlite3.connect(data_dir / "hub.sqlite3", timeout=30) as conn:
            return conn.execute(sql, args).fetchall()

    return run


def _iso(value: Any) -> str:
    return protocol.iso(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def hub_entries(query: HubQuery, node_id: str) -> list[dict[str, Any]]:
    """The hub's downstream log for a node, each entry as it travels (hub/ingest.downstream_entry)."""
    rows = query("SELECT cseq, type, request_id, at, body FROM hubevent WHERE node_id = ? ORDER BY cseq", (node_id,))
    return [
        {"cseq": c, "type": t, "request_id": r, "at": _iso(at), **(json.loads(b) if isinstance(b, str) else b)}
        for c, t, r, at, b in rows
    ]


def content_diff(query: HubQuery, node_db: Path) -> list[str]:
    """Every difference between what the node holds and what the hub holds; empty when they agree."""
    with sqlite3.connect(node_db) as conn:
        meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        node_log = [json.loads(b) for (b,) in conn.execute("SELECT body FROM hubupdate ORDER BY cseq")]
        node_reqs = {
            code: (state, deadline)
            for code, state, deadline in conn.execute(
                "SELECT receipt_code, state, deadline FROM request WHERE state != ?", (states.HELD,)
            )
        }
    node_id = meta["node_id"]
    diffs: list[str] = []
    hub_log = hub_entries(query, node_id)
    if len(hub_log) != len(node_log):
        diffs.append(f"log length: node {len(node_log)}, hub {len(hub_log)}")
    for mine, theirs in zip(node_log, hub_log):
        if mine != theirs:
            diffs.append(f"entry {theirs['cseq']}: node {mine} != hub {theirs}")
    if meta.get("cursor", 0) != (hub_log[-1]["cseq"] if hub_log else 0):
        diffs.append(f"cursor {meta.get('cursor')} != hub end {hub_log[-1]['cseq'] if hub_log else 0}")
    # A closed case shows no deadline at the village (the one clock rule); the hub keeps it on record.
    hub_cases = {
        code: (
            state,
            None if states.is_terminal(state) else deadline.isoformat() if hasattr(deadline, "isoformat") else deadline,
        )
        for code, state, deadline in query(
            'SELECT receipt_code, state, deadline FROM "case" WHERE node_id = ?', (node_id,)
        )
    }
    for code, value in sorted(node_reqs.items()):
        if code not in hub_cases:
            diffs.append(f"{code}: at the node ({value[0]}) but not at the hub")
            continue
        if value != hub_cases[code]:
            diffs.append(f"{code}: node {value} != hub {hub_cases[code]}")
    for code in sorted(set(hub_cases) - set(node_reqs)):
        diffs.append(f"{code}: at the hub but not at the node")
    return diffs
