"""What a streaming standby costs the hub: ingest with asynchronous vs synchronous replication.

    .venv/bin/python -m bench.replication

Starts its own PostgreSQL primary and standby (tests/pgpair.py; fsync on, as in production),
then for each mode -- no standby waited for (asynchronous), synchronous_commit=on with the
standby named in synchronous_standby_names, and remote_apply -- measures, REPS times over
(BENCH_REPL_REPS, default 3; BENCH_RUNS fresh nodes per measurement, default 3):

* the hub's ingest rate through its real sync endpoint (bench/ingest.py's throughput: fresh
  wire nodes posting signed batches of 50 and 200 captures to a `daiban hub run` process);
* the latency of one small commit, which is what synchronous replication adds to.

Both servers run on this machine, so the standby's round trip is loopback; on a LAN add the
network round trip to every synchronous commit. Prints JSON on stdout, progress on stderr.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.pgpair import sql, start_pair

from .harness import hub_process, load_average, log, machine, median, pct, scaled
from .ingest import throughput

MODES: tuple[tuple[str, str | None], ...] = (("async", None), ("sync_on", "on"), ("sync_remote_apply", "remote_apply"))
BATCH_SIZES = (50, 200)
REPS = int(os.environ.get("BENCH_REPL_REPS", "3"))


def commit_latency_ms(url: str, n: int) -> list[float]:
    """Milliseconds for each of n one-row INSERT commits on a fresh connection."""
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    out = []
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS bench_commit (id serial PRIMARY KEY, at timestamptz)")
            for _ in range(n):
                t0 = time.perf_counter()
                cur.execute("INSERT INTO bench_commit (at) VALUES (now())")
                out.append((time.perf_counter() - t0) * 1000)
    finally:
        conn.close()
    return out


def run() -> dict[str, Any]:
    """Every mode measured in turn, REPS times over, on one hub and one database.

    The machine is shared, so a mode measured once can look faster or slower than it is;
    interleaving the modes and taking medians puts the same background load on each. The
    setting is server-wide and the hub connects per request, so a mode applies from the
    next request on.
    """
    result: dict[str, Any] = {"machine": machine(), "reps": REPS}
    lat: dict[str, list[float]] = {name: [] for name, _ in MODES}
    rates: dict[tuple[str, int], list[float]] = {(name, size): [] for name, _ in MODES for size in BATCH_SIZES}
    loads: list[float] = []
    pair = start_pair(fsync=True)
    try:
        sql(pair.primary.admin_url, "CREATE DATABASE bench_repl")
        url = pair.multi_url("bench_repl")
        with tempfile.TemporaryDirectory(prefix="bench-repl-") as tmp, hub_process(Path(tmp), url) as hub:
            for rep in range(REPS):
                for name, level in MODES:
                    pair.set_synchronous(level)
                    loads.append(load_average())
                    lat[name] += commit_latency_ms(pair.url(pair.primary, "bench_repl"), scaled(300))
                    for size in BATCH_SIZES:
                        events = max(scaled(600), 2 * size)
                        got = throughput(hub, url, size, events, f"{name}{rep}批{size}")
                        rates[(name, size)] += got
                        log(f"replication {name} rep {rep} batch {size}: {median(got):.0f} events/s")
    finally:
        pair.stop()
    for name, _ in MODES:
        out: dict[str, Any] = {
            "commit_ms_p50": round(median(lat[name]), 2),
            "commit_ms_p99": round(pct(lat[name], 99), 2),
        }
        for size in BATCH_SIZES:
            out[f"batch_{size}_events_per_s"] = round(median(rates[(name, size)]))
        result[name] = out
        log(f"replication {name}: {out}")
    result["load_avg_median"] = round(median(loads), 2)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=1))
