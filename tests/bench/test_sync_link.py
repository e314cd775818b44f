"""bench.sync_link's `wire` run measures the LAN level: --lan-level keeps the node from judging the link slow."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from bench.harness import hub_process
from bench.linkshaper import LinkShaper

# bench/ is outside mypy's files (pyproject.toml); imported by name, mypy does not follow into it.
sync_link = importlib.import_module("bench.sync_link")


def _slow_bodies(trace: Path) -> list[bool]:
    steps = [json.loads(line) for line in trace.read_text().splitlines()]
    return [s["slow"] for s in steps if s["ev"] == "compress"]


def test_lan_level_keeps_a_slow_link_from_being_judged_slow(tmp_path: Path) -> None:
    with hub_process(tmp_path / "hub") as hub:
        for name, lan_level in (("判", False), ("局", True)):
            node_dir = sync_link.fresh_node(tmp_path, hub, name, 3, seed=5)
            trace = tmp_path / f"{name}.jsonl"
            with LinkShaper(("127.0.0.1", hub.port), **sync_link.TWO_G) as link:
                rep = sync_link.node_sync(node_dir, link.url, trace=trace, lan_level=lan_level)
            assert rep["queued_after"] == 0
            slow = _slow_bodies(trace)
            # The hello goes before anything is measured (not slow); over 2G the node judges the
            # batch's link slow on its own, and with --lan-level never does.
            assert len(slow) >= 2
            assert any(slow) is not lan_level
