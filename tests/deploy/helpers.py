"""Small helpers for the deploy drills: capture through the CLI, read a node's or hub's facts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests import factories
from tests.support import Service


def capture(node: Service, tmp: Path, name: str = "张三", item: str = "JF-01") -> str:
    """Capture one request on a node through its CLI; returns the receipt code."""
    form = tmp / f"form-{node.port}-{name}.json"
    form.write_text(json.dumps(factories.capture(item, name=name), ensure_ascii=False), encoding="utf-8")
    return node.cli("capture", str(form)).stdout.strip()


def node_meta(node: Service, key: str) -> Any:
    """A fact from the node's Meta table, read straight from its SQLite file."""
    with sqlite3.connect(node.data_dir / "node.sqlite3") as db:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def node_rows(node: Service, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the node's SQLite file."""
    with sqlite3.connect(node.data_dir / "node.sqlite3") as db:
        return db.execute(sql).fetchall()


def hub_rows(hub: Service, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on a SQLite hub's database file."""
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as db:
        return db.execute(sql).fetchall()
