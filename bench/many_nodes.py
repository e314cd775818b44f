"""Fifty village nodes syncing at once into gunicorn on PostgreSQL, served as deploy/hub serves it.

By default the hub runs as the production unit does (bench/production.py reads deploy/hub: gthread
workers with their threads, the env template's worker count and sync admission). A refused sync (429
``rate_limited`` with Retry-After) is not an error: the node waits as node.scheduler.backoff_delay
says and sends the same bytes again, as a real node does. So two latencies are reported: per HTTP
request (a 429 answered in milliseconds counts as one) and per batch from its first send until the
hub accepted it (the waits after refusals included: what the village experiences).
BENCH_MANY_NODES_HUB=sync runs the former setup instead (BENCH_WORKERS sync workers, no admission),
for a before/after in one sitting.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from node.scheduler import backoff_delay, hub_retry_after, hub_wait
from tests import support

from . import production
from .harness import ROOT, WireNode, hub_codes, load_average, log, pct, pg_database, scaled

NODES = int(os.environ.get("BENCH_NODES", "50"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
HUB_SETUP = os.environ.get("BENCH_MANY_NODES_HUB", "production")
BATCH = int(os.environ.get("BENCH_MANY_NODES_BATCH", "100"))
# A batch still refused after this long is counted as an error (the node itself would keep trying).
GIVE_UP_S = 600.0


def gunicorn(
    hub_dir: Path,
    db_url: str,
    port: int,
    extra: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    workers: int = WORKERS,
) -> subprocess.Popen:
    """gunicorn serving hub:create_app() with `workers` workers (sync unless `extra` says); waits for /healthz."""
    env = {**os.environ, "DAIBAN_HUB_DIR": str(hub_dir), "DATABASE_URL": db_url, **(extra_env or {})}
    log_file = open(hub_dir / "gunicorn.log", "ab")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            str(workers),
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


def serve(hub_dir: Path, db_url: str, port: int) -> tuple[subprocess.Popen, dict[str, Any]]:
    """The hub under gunicorn as HUB_SETUP says, and a description of that setup for the results."""
    if HUB_SETUP == "sync":
        return gunicorn(hub_dir, db_url, port), {"setup": "sync", "workers": WORKERS, "worker_class": "sync"}
    args, env, workers = production.serving_args(), production.admission_env(), production.workers()
    setup = {"setup": "production (deploy/hub)", "workers": workers, "gunicorn_args": args, "env": env}
    return gunicorn(hub_dir, db_url, port, args, env, workers=workers), setup


class Tally:
    """What the nodes saw: every HTTP request's latency, every batch's time to acceptance, refusals and errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.per_request: list[float] = []
        self.per_batch: list[float] = []
        self.refused = 0
        self.retry_after: list[float] = []  # what each 429 told the node to wait
        self.errors: list[str] = []

    def request(self, seconds: float, status: int, err: str | None, retry_after: float = 0.0) -> None:
        with self.lock:
            self.per_request.append(seconds)
            self.refused += status == 429
            if status == 429:
                self.retry_after.append(retry_after)
            if err:
                self.errors.append(err)

    def accepted(self, seconds: float) -> None:
        with self.lock:
            self.per_batch.append(seconds)


def send_until_accepted(node: WireNode, raw: bytes, tally: Tally, rng: random.Random) -> bool:
    """Post one batch, and after each 429 wait as the node does and send the same bytes again; False on an error."""
    first = time.perf_counter()
    failures = 0
    while True:
        t0 = time.perf_counter()
        try:
            status, body = node.post(raw)
            error = body.get("error") or {}
            err = None if status in (200, 429) else f"{status} {error.get('code')}"
        except Exception as exc:  # noqa: BLE001 - every failure is counted
            status, error, err = 0, {}, f"{type(exc).__name__}: {exc}"[:200]
        tally.request(time.perf_counter() - t0, status, err, hub_retry_after(error))
        if status == 200:
            tally.accepted(time.perf_counter() - first)
            return True
        if err or time.perf_counter() - first > GIVE_UP_S:
            if not err:
                tally.request(0.0, 0, "gave up")
            return False
        failures += 1
        time.sleep(backoff_delay(failures, rng, *hub_wait(error)))


def at_once(nodes: list[WireNode], work: list[list[bytes]]) -> tuple[float, Tally]:
    """Every node posts its batches in order, all starting together; (wall seconds, what they saw)."""
    tally = Tally()
    start = threading.Barrier(len(nodes) + 1)

    def sync(node: WireNode, envelopes: list[bytes]) -> None:
        rng = random.Random(node.node_id)
        start.wait()
        for raw in envelopes:
            if not send_until_accepted(node, raw, tally, rng):
                return  # the chain cannot go on without this batch

    threads = [threading.Thread(target=sync, args=pair) for pair in zip(nodes, work)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, tally


def run() -> dict[str, Any]:
    """Throughput, p50/p99 per HTTP request and per batch until accepted, refusals and errors."""
    batches_each = max(1, scaled(3))
    size = BATCH
    with tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp, pg_database() as pg:
        if pg is None:
            return {"skipped": "PostgreSQL not available"}
        hub = support.make_hub(Path(tmp), pg)
        port = support.free_port()
        proc, setup = serve(hub.data_dir, pg, port)
        try:
            url = f"http://127.0.0.1:{port}"
            codes = hub_codes(pg, [f"并发村{i}" for i in range(NODES)])
            nodes = [WireNode(url, code, seed=500 + i) for i, code in enumerate(codes)]
            work = [node.batches(batches_each * 100, size) for node in nodes]
            load = load_average()
            wall, tally = at_once(nodes, work)
            inside_ms = hub_side_ms(pg)
        finally:
            proc.terminate()
            proc.wait(20)
    events = NODES * batches_each * 100
    ok_events = len(tally.per_batch) * size
    out = {
        "nodes": NODES,
        **setup,
        "batch": size,
        "batches": NODES * len(work[0]),
        "requests": len(tally.per_request),
        "refused_429": tally.refused,
        # The Retry-After the refusals named (s): the hub's estimate of the work ahead of each.
        "retry_after_p50_s": pct(tally.retry_after, 50) if tally.retry_after else None,
        "retry_after_max_s": max(tally.retry_after, default=None),
        "events": events,
        "wall_s": round(wall, 1),
        "events_per_s": round(ok_events / wall),
        "requests_per_s": round(len(tally.per_request) / wall, 1),
        # Per HTTP request: what the budget "per sync request" names; a 429 answered at once is one request.
        "p50_ms": round(pct(tally.per_request, 50) * 1000),
        "p99_ms": round(pct(tally.per_request, 99) * 1000),
        # Per batch, first send until the hub accepted it, the node's waits after refusals included.
        "accepted_p50_ms": round(pct(tally.per_batch, 50) * 1000) if tally.per_batch else None,
        "accepted_p99_ms": round(pct(tally.per_batch, 99) * 1000) if tally.per_batch else None,
        # Mean time an accepted request spent inside the hub (its own sync metrics).
        "hub_mean_ms": inside_ms,
        "errors": len(tally.errors),
        "error_kinds": sorted(set(tally.errors)),
        "load_avg": load,
    }
    log(
        f"gunicorn {NODES} nodes ({out['setup']}): {out['events_per_s']} events/s; per HTTP request p50 "
        f"{out['p50_ms']} ms, p99 {out['p99_ms']} ms ({tally.refused} answered 429, Retry-After p50 "
        f"{out['retry_after_p50_s']} s, max {out['retry_after_max_s']} s); per batch until accepted p50 "
        f"{out['accepted_p50_ms']} ms, p99 {out['accepted_p99_ms']} ms; {len(tally.errors)} errors; "
        f"{out['hub_mean_ms']} ms per request inside the hub"
    )
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=1))
