"""The hub's status pages in process: CPU per request through Flask's test client, no server.

    .venv/bin/python -m bench.status_inprocess --seed DIR [--tree CHECKOUT]

What the app itself spends on a request (hooks, view, queries, rendering), without waitress, the
load generator or threads taking turns for the GIL: of the status figures, the one other work on a
shared machine moves least, so before and after can be told apart at a load of 8. The same three
requests as bench.status_pages (the form, a real lookup, /healthz) on a hub seeded the same way
(200 requests from one village); the seeded hub is kept in DIR and copied for each run, so runs
alternating `--tree` with this checkout read the same database. BENCH_RUNS rounds of
BENCH_INPROC_REQUESTS (default 2,000) requests per page, after 200 to warm up; medians of the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from .tree import parse_args

REQUESTS = int(os.environ.get("BENCH_INPROC_REQUESTS", "2000"))
WARM = 200


def seed(seed_dir: Path) -> Path:
    """The hub data directory in seed_dir, seeded as bench.status_pages seeds its hub (once)."""
    from .harness import WireNode, hub_codes, hub_process, log, sqlite_url

    hub_dir = seed_dir / "hub"
    if (hub_dir / "hub.sqlite3").exists():
        return hub_dir
    seed_dir.mkdir(parents=True, exist_ok=True)
    with hub_process(seed_dir) as hub:
        node = WireNode(hub.url, hub_codes(sqlite_url(hub.data_dir), ["查询村"])[0])
        for raw in node.batches(200, 200):
            node.post(raw)
    log(f"seeded {hub_dir}")
    return hub_dir


def run(seed_dir: Path) -> dict[str, Any]:
    """CPU µs per request for each page, in this process, on a copy of the seeded hub."""
    from .harness import RUNS, load_average, log, median

    hub_dir = seed(seed_dir)
    with tempfile.TemporaryDirectory(prefix="bench-status-inproc-") as tmp:
        data = Path(tmp) / "hub"
        shutil.copytree(hub_dir, data)
        with sqlite3.connect(data / "hub.sqlite3") as con:
            code, phone = con.execute('SELECT receipt_code, phone FROM "case" ORDER BY request_id LIMIT 1').fetchone()
        os.environ["DAIBAN_HUB_DIR"] = str(data)
        os.environ["DAIBAN_HUB_STATUS_LOOKUP_LIMIT"] = "1000000000"
        import hub
        from hub import create_app

        client = create_app().test_client()
        out: dict[str, Any] = {"hub_package": os.path.dirname(hub.__file__), "load_avg": load_average()}
        env = {"REMOTE_ADDR": "127.0.0.1"}
        for name, path in (
            ("status_form", "/status"),
            ("status_lookup", f"/status?code={code}&tail={phone[-4:]}"),
            ("healthz", "/healthz"),
        ):
            for _ in range(WARM):
                resp = client.get(path, environ_base=env)
            assert resp.status_code == 200, (path, resp.status_code)  # nosec B101 - a bench's own check
            rounds = []
            for _ in range(RUNS):
                cpu0 = time.process_time()
                for _ in range(REQUESTS):
                    client.get(path, environ_base=env)
                rounds.append(round(1e6 * (time.process_time() - cpu0) / REQUESTS))
            out[name] = {"cpu_us_per_request": median(rounds), "rounds": rounds, "response_bytes": len(resp.data)}
            log(f"in process {path.split('?')[0]} ({name}): {median(rounds)} CPU µs per request, rounds {rounds}")
        return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", required=True, help="where the seeded hub is kept (seeded on first use)")
    args = parse_args(ap)
    print(json.dumps(run(Path(args.seed)), ensure_ascii=False, indent=1))
