"""Single steps of the hub's sync path, each timed alone: figures a loaded machine disturbs little.

    .venv/bin/python -m bench.hub_steps [--tree OLD_CHECKOUT]

- `iso_us`: `shared.protocol.iso` of a naive (stored) time, once per update of every answer; the
  least of 30 passes over 2,000 times, CPU µs per call.
- `sync_counter_cpu_us` / `sync_counter_wall_us`: `hub.metrics.record_sync`, the counter every
  sync answer commits, on a SQLite hub as deployed (WAL, synchronous=FULL); the median of 5
  rounds of 100 calls, CPU and wall µs per call.

Run alternating with `--tree` of the checkout before (docs/performance.md, "Hub ingest, fourth
pass").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)


def least(passes: int, step: object, per: int) -> float:
    """The least CPU µs per item of `passes` runs of step() over `per` items."""
    best = float("inf")
    for _ in range(passes):
        cpu0 = time.process_time()
        step()  # type: ignore[operator]
        best = min(best, time.process_time() - cpu0)
    return round(best / per * 1e6, 3)


def main() -> None:
    """Print the steps' figures as JSON."""
    ap = argparse.ArgumentParser()
    from bench.tree import parse_args

    parse_args(ap)
    from hub import create_app
    from hub.db import database
    from hub.ingest import no_cycle_collection
    from hub.metrics import record_sync
    from hub.schema import migrate
    from shared import protocol

    out: dict[str, float] = {}
    base = datetime(2026, 12, 1, 2, 0, 0)
    times = [base + timedelta(microseconds=7919 * i) for i in range(2000)]
    with no_cycle_collection():
        out["iso_us"] = least(30, lambda: [protocol.iso(t) for t in times], len(times))

    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": tempfile.mkdtemp(),
            "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/hub.sqlite3",
            "SECRET_KEY": "x",
        }
    )
    with app.app_context(), database.connection_context():
        migrate()
        cpu, wall = [], []
        for _ in range(5):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(100):
                record_sync(200, 0.01 * (i % 7))
            cpu.append((time.process_time() - cpu0) / 100 * 1e6)
            wall.append((time.perf_counter() - wall0) / 100 * 1e6)
        out["sync_counter_cpu_us"] = round(statistics.median(cpu))
        out["sync_counter_wall_us"] = round(statistics.median(wall))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
