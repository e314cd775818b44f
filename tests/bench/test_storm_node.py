"""bench.storm's village nodes go through a hub: make bench's storm section rests on them (it broke once
when the bench's nodes gained capture times StormNode did not start)."""

from __future__ import annotations

import importlib
import sqlite3
import time
from pathlib import Path

from bench.harness import hub_codes, hub_process, sqlite_url

# bench/ is outside mypy's files (pyproject.toml); imported by name, mypy does not follow into it.
storm = importlib.import_module("bench.storm")


def test_a_storm_node_says_hello_sends_its_day_and_polls(tmp_path: Path) -> None:
    with hub_process(tmp_path / "hub") as hub:
        node = storm.StormNode(hub.url, hub_codes(sqlite_url(hub.data_dir), ["风暴村"])[0], seed=3)
        tally = storm.Tally()
        now = time.monotonic()
        storm.one_node(node, 0.0, tally, False, now)
        assert tally.errors == []
        assert len(tally.drained_at) == 1  # hello, the batch and the poll each answered 200
        db = sqlite3.connect(hub.data_dir / "hub.sqlite3")
        try:
            events = db.execute("SELECT count(*), count(DISTINCT seq) FROM nodeevent").fetchone()
            cases = db.execute('SELECT count(*) FROM "case"').fetchone()[0]
        finally:
            db.close()
    assert events == (storm.CAPTURES, storm.CAPTURES)
    assert cases == storm.CAPTURES
