"""The public status page at the hub (and /healthz): bytes per answer, requests/s, p99 and hub CPU under load.

    .venv/bin/python -m bench.status_pages [--tree CHECKOUT]

`hub_cpu_us_per_request` is the hub process's CPU (user + system, all its threads) over a load
run divided by the requests answered: the figure other work on a shared machine moves least.
`--tree` serves another checkout's hub (its hub/ and shared/ ahead of this one's), to alternate
with this checkout in one sitting; BENCH_RUNS, BENCH_LOAD_SECONDS, BENCH_CONNECTIONS as below.
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
from typing import Any

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

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))


def load_run(url: str, pid: int, seconds: float = SECONDS) -> dict[str, Any]:
    """One bench.loadgen run against url from a second process (pid: the server's); its CPU µs per answer added."""
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url, "--connections", str(CONNECTIONS), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    run: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    run["hub_cpu_us_per_request"] = round(1e6 * (cpu_seconds(pid) - cpu0) / max(1, run["requests"]))
    return run


def load(url: str, pid: int) -> dict[str, Any]:
    """Median over RUNS of bench.loadgen against url, from a second process; pid is the server's."""
    runs = [load_run(url, pid) for _ in range(RUNS)]
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


def run(tree: str | None = None) -> dict[str, Any]:
    """Form page, a real lookup and /healthz at the hub (tree's hub when given)."""
    out: dict[str, Any] = {"connections": CONNECTIONS, "seconds": SECONDS, "load_avg": load_average()}
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp, contextlib.ExitStack() as stack:
        os.environ["DAIBAN_HUB_STATUS_LOOKUP_LIMIT"] = "1000000000"
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
            for name, path in (
                ("status_form", "/status"),
                ("status_lookup", f"/status?code={code}&tail={tail}"),
                ("healthz", "/healthz"),
            ):
                out[name] = load(hub.url + path, hub.proc.pid)
                log(
                    f"hub {path.split('?')[0]} ({name}): {out[name]['response_bytes']} B, "
                    f"{out[name]['requests_per_s']} req/s, p99 {out[name]['p99_ms']} ms, "
                    f"{out[name]['hub_cpu_us_per_request']} hub CPU µs per request"
                )
        finally:
            os.environ.pop("DAIBAN_HUB_STATUS_LOOKUP_LIMIT", None)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="a checkout whose hub to serve and measure instead of this one's")
    print(json.dumps(run(ap.parse_args().tree), ensure_ascii=False, indent=1))
