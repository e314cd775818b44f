"""`make bench`'s status lookup: waitress and gunicorn (as deploy/hub serves the hub) against one budget.

Offline: nothing here starts a hub.
"""

from __future__ import annotations

from types import ModuleType


def rows(table: str) -> dict[str, str]:
    return {line.split(" | ")[0].lstrip("| ").strip(): line for line in table.splitlines() if line.startswith("| ")}


def lookup(requests_per_s: float, p99_ms: float, cpu_us: int) -> dict[str, float]:
    return {
        "requests_per_s": requests_per_s,
        "p99_ms": p99_ms,
        "hub_cpu_us_per_request": cpu_us,
        "response_bytes": 1679,
    }


def test_both_servers_meet_the_same_budget_or_miss_it(run_all: ModuleType) -> None:
    status = {"status_lookup": lookup(470.4, 72.3, 2384), "production_lookup": lookup(900.0, 30.0, 1500)}
    table = rows(run_all.table({"status": status}))
    # The waitress rows keep their labels and keys.
    assert table["Hub status lookup"].endswith("| ≥ 500 | MISSED |")
    assert table["Hub status lookup p99"].endswith("| ≤ 50 | MISSED |")
    assert "2,384 µs" in table["same, hub CPU per lookup (waitress)"]
    assert table["Hub status lookup, gunicorn (deploy/hub)"].endswith("| ≥ 500 | ok |")
    assert "1,500 µs" in table["same, hub CPU per lookup (all workers)"]
    status["production_lookup"] = lookup(480.0, 51.0, 1500)
    table = rows(run_all.table({"status": status}))
    assert table["Hub status lookup, gunicorn (deploy/hub)"].endswith("| ≥ 500 | MISSED |")
    assert table["same, p99"].endswith("| ≤ 50 | MISSED |")
