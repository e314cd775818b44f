"""Fifty village nodes syncing at once into gunicorn with several workers on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests import support

from .harness import ROOT, WireNode, hub_codes, load_average, log, pct, pg_database, scaled

NODES = int(os.environ.get("BENCH_NODES", "50"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))


def gunicorn(
    hub_dir: Path, db_url: str, port: int, extra: Sequence[str] = (), extra_env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """gunicorn serving hub:create_app() with WORKERS workers (sync unless `extra` says); waits for /healthz."""
    env = {**os.environ, "DAIBAN_HUB_DIR": str(hub_dir), "DATABASE_URL": db_url, **(extra_env or {})}
    log_file = open(hub_dir / "gunicorn.log", "ab")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            *extra,
            "hub:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    support.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
    return proc


def hub_side_ms(db_url: str) -> float | None:
    """Mean milliseconds a 200 sync request spent in the hub's own code, from its metrics table."""
    from hub.db import bind, database, open_database
    from hub.models import SyncStat

    bind(open_database(db_url))
    with database.connection_context():
        count, total = database.execute_sql(
            f"SELECT SUM(count), SUM(sum_ms) FROM {SyncStat._meta.table_name} WHERE status = 200"  # nosec B608
        ).fetchone()
    return round(float(total) / int(count), 1) if count else None  # PostgreSQL sums as numeric


def run() -> dict[str, Any]:
    """Throughput, p50/p99 latency per sync request, and errors."""
    batches_each = max(1, scaled(3))
    size = 100
    with tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp, pg_database() as pg:
        if pg is None:
            return {"skipped": "PostgreSQL not available"}
        hub = support.make_hub(Path(tmp), pg)
        port = support.free_port()
        proc = gunicorn(hub.data_dir, pg, port)
        try:
            url = f"http://127.0.0.1:{port}"
            codes = hub_codes(pg, [f"并发村{i}" for i in range(NODES)])
            nodes = [WireNode(url, code, seed=500 + i) for i, code in enumerate(codes)]
            work = [(node, node.batches(batches_each * size, size)) for node in nodes]
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            start = threading.Barrier(len(work) + 1)

            def sync(node: WireNode, envelopes: list[bytes]) -> None:
                start.wait()
                for raw in envelopes:
                    t0 = time.perf_counter()
                    try:
                        status, body = node.post(raw)
                        err = None if status == 200 else f"{status} {body.get('error', {}).get('code')}"
                    except Exception as exc:  # noqa: BLE001 - every failure is counted
                        err = type(exc).__name__
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                        if err:
                            errors.append(err)

            threads = [threading.Thread(target=sync, args=w) for w in work]
            for t in threads:
                t.start()
            load = load_average()
            start.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            inside_ms = hub_side_ms(pg)
        finally:
            proc.terminate()
            proc.wait(20)
    events = NODES * batches_each * size
    ok_events = events - len(errors) * size
    out = {
        "nodes": NODES,
        "workers": WORKERS,
        "batch": size,
        "requests": len(latencies),
        "events": events,
        "events_per_s": round(ok_events / wall),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(pct(latencies, 50) * 1000),
        "p99_ms": round(pct(latencies, 99) * 1000),
        # Mean time a request spent inside the hub (its own sync metrics): the rest of p50 is waiting for a worker.
        "hub_mean_ms": inside_ms,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "load_avg": load,
    }
    log(
        f"gunicorn {NODES} nodes: {out['events_per_s']} events/s, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, "
        f"{len(errors)} errors; {out['hub_mean_ms']} ms per request inside the hub"
    )
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=1))
