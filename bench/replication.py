"""What a streaming standby costs the hub: ingest with asynchronous vs synchronous replication.

    .venv/bin/python -m bench.replication

Starts its own PostgreSQL primary and standby (tests/pgpair.py; fsync on, as in production),
then for each mode -- no standby waited for (asynchronous), synchronous_commit=on with the
standby named in synchronous_standby_names, and remote_apply -- measures:

* the hub's ingest rate through its real sync endpoint (bench/ingest.py's throughput: fresh
  wire nodes posting signed batches of 50 and 200 captures to a `daiban hub run` process);
* the latency of one small commit, which is what synchronous replication adds to.

Both servers run on this machine, so the standby's round trip is loopback; on a LAN add the
network round trip to every synchronous commit. Prints JSON on stdout, progress on stderr.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.pgpair import Pair, sql, start_pair

from .harness import hub_process, load_average, log, machine, median, pct, scaled
from .ingest import throughput

MODES: tuple[tuple[str, str | None], ...] = (("async", None), ("sync_on", "on"), ("sync_remote_apply", "remote_apply"))
BATCH_SIZES = (50, 200)


def commit_latency_ms(url: str, n: int) -> list[float]:
    """Milliseconds for each of n one-row INSERT commits on a fresh connection."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
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


def bench_mode(pair: Pair, name: str, level: str | None, tmp: Path) -> dict[str, Any]:
    pair.set_synchronous(level)
    db = f"bench_{name}"
    sql(pair.primary.admin_url, f"CREATE DATABASE {db}")
    url = pair.multi_url(db)
    out: dict[str, Any] = {"load_avg": load_average()}
    lat = commit_latency_ms(pair.url(pair.primary, db), scaled(500))
    out["commit_ms_p50"] = round(median(lat), 3)
    out["commit_ms_p99"] = round(pct(lat, 99), 3)
    with hub_process(tmp / name, url) as hub:
        for size in BATCH_SIZES:
            events = max(scaled(1000), 2 * size)
            rates = throughput(hub, url, size, events, f"{name}{size}")
            out[f"batch_{size}_events_per_s"] = round(median(rates))
            out[f"batch_{size}_runs"] = [round(r) for r in rates]
            log(f"replication {name} batch {size}: {median(rates):.0f} events/s")
    log(f"replication {name}: commit p50 {out['commit_ms_p50']} ms, p99 {out['commit_ms_p99']} ms")
    return out


def run() -> dict[str, Any]:
    result: dict[str, Any] = {"machine": machine()}
    pair = start_pair(fsync=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-repl-") as tmp:
            for name, level in MODES:
                result[name] = bench_mode(pair, name, level, Path(tmp))
    finally:
        pair.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=1))
