"""The public status page at the hub (and /healthz): bytes per answer, requests/s, p99 and hub CPU under load.

    .venv/bin/python -m bench.status_pages [--tree CHECKOUT]

`hub_cpu_us_per_request` is the hub process's CPU (user + system, all its threads) over a load
run divided by the requests answered: the figure other work on a shared machine moves least.
The form, the lookup and /healthz are served by `daiban hub run` (waitress, one process); then
the same lookup (`production_lookup`) by the hub served as production serves it: gunicorn with
deploy/hub's worker class, threads and workers (bench/production.py), on the same database, its
CPU that of the master and every worker. `--tree` serves another checkout's hub (its hub/ and
shared/ ahead of this one's), to alternate with this checkout in one sitting; BENCH_RUNS,
BENCH_LOAD_SECONDS, BENCH_CONNECTIONS as below.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from tests import support

from . import production
from .harness import (
    ROOT,
    RUNS,
    WireNode,
    cpu_seconds,
    hub_codes,
    hub_process,
    load_average,
    log,
    median,
    served_from,
    serving_tree,
    sqlite_url,
)
from .ingest import tree_cpu_seconds
from .many_nodes import gunicorn

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
# Not counted: each gunicorn worker compiles the page at its first lookups (waitress's one process
# does it once, inside its first run).
WARM_SECONDS = 1.0
# The lookups the bench makes must never be refused: it measures answers, not the limiter's 429.
NO_LOOKUP_LIMIT = {"DAIBAN_HUB_STATUS_LOOKUP_LIMIT": "1000000000"}


def load_run(url: str, pid: int, seconds: float = SECONDS, cpu: Callable[[int], float] = cpu_seconds) -> dict[str, Any]:
    """One bench.loadgen run against url from a second process; the server's CPU µs per answer added.

    pid is the server's; cpu(pid) its CPU seconds so far (tree_cpu_seconds for gunicorn's workers).
    """
    cpu0 = cpu(pid)
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url, "--connections", str(CONNECTIONS), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    run: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    run["hub_cpu_us_per_request"] = round(1e6 * (cpu(pid) - cpu0) / max(1, run["requests"]))
    return run


def load(url: str, pid: int, cpu: Callable[[int], float] = cpu_seconds) -> dict[str, Any]:
    """Median over RUNS of bench.loadgen against url, from a second process; pid is the server's."""
    runs = [load_run(url, pid, cpu=cpu) for _ in range(RUNS)]
    best = sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2]
    best["p99_ms"] = median([r["p99_ms"] for r in runs])
    best["hub_cpu_us_per_request"] = median([r["hub_cpu_us_per_request"] for r in runs])
    best["errors"] = sum(r["errors"] for r in runs)
    return best


def a_case(db_url: str) -> tuple[str, str]:
    """The receipt code and phone tail of some case at the hub."""
    from hub.db import bind, database, open_database
    from hub.models import Case

    db = open_database(db_url)
    bind(db)
    with database.connection_context():
        case = Case.select().first()
        out = (case.receipt_code, case.phone[-4:])
    db.close()
    return out


def production_lookup(hub_dir: Path, db_url: str, path: str, tree: str | None) -> dict[str, Any]:
    """The lookup at path against the hub served as deploy/hub serves it (tree's hub when given).

    gunicorn with the unit's worker class, threads and timeouts and the env template's workers;
    the lookup limit is lifted as for waitress (each worker counts in its own memory).
    """
    args = production.serving_args()
    if tree:
        # gunicorn puts --chdir first on sys.path (so not on PYTHONPATH too, as bench.ingest does).
        args = [*args, "--chdir", tree]
    port = support.free_port()
    proc = gunicorn(hub_dir, db_url, port, args, NO_LOOKUP_LIMIT, workers=production.workers())
    url = f"http://127.0.0.1:{port}{path}"
    try:
        load_run(url, proc.pid, WARM_SECONDS, tree_cpu_seconds)
        out = load(url, proc.pid, tree_cpu_seconds)
    finally:
        proc.terminate()
        proc.wait(20)
    return {
        **out,
        "server": "gunicorn",
        "workers": production.workers(),
        "gunicorn_args": args,
        "hub_tree": tree or "this",
    }


def run(tree: str | None = None) -> dict[str, Any]:
    """Form page, a real lookup and /healthz at the hub (tree's hub when given); the lookup again as production serves it."""
    out: dict[str, Any] = {"connections": CONNECTIONS, "seconds": SECONDS, "load_avg": load_average()}
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp, contextlib.ExitStack() as stack:
        os.environ.update(NO_LOOKUP_LIMIT)
        try:
            with serving_tree(tree):
                hub = stack.enter_context(hub_process(Path(tmp)))
                out["hub_package"] = served_from()
            assert hub.proc is not None
            url = sqlite_url(hub.data_dir)
            node = WireNode(hub.url, hub_codes(url, ["查询村"])[0])
            for raw in node.batches(200, 200):
                node.post(raw)
            code, tail = a_case(url)
            lookup = f"/status?code={code}&tail={tail}"
            for name, path in (
                ("status_form", "/status"),
                ("status_lookup", lookup),
                ("healthz", "/healthz"),
            ):
                out[name] = load(hub.url + path, hub.proc.pid)
                log(
                    f"hub {path.split('?')[0]} ({name}): {out[name]['response_bytes']} B, "
                    f"{out[name]['requests_per_s']} req/s, p99 {out[name]['p99_ms']} ms, "
                    f"{out[name]['hub_cpu_us_per_request']} hub CPU µs per request"
                )
            hub.stop()  # waitress done: gunicorn alone serves the same database
            prod = out["production_lookup"] = production_lookup(hub.data_dir, url, lookup, tree)
            log(
                f"hub /status (production_lookup: gunicorn, {prod['workers']} workers, "
                f"{' '.join(prod['gunicorn_args'])}): {prod['response_bytes']} B, {prod['requests_per_s']} req/s, "
                f"p99 {prod['p99_ms']} ms, {prod['hub_cpu_us_per_request']} hub CPU µs per request (all workers); "
                f"waitress: {out['status_lookup']['requests_per_s']} req/s, p99 {out['status_lookup']['p99_ms']} ms, "
                f"{out['status_lookup']['hub_cpu_us_per_request']} µs"
            )
        finally:
            for name in NO_LOOKUP_LIMIT:
                os.environ.pop(name, None)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="a checkout whose hub to serve and measure instead of this one's")
    print(json.dumps(run(ap.parse_args().tree), ensure_ascii=False, indent=1))
