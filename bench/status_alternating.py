"""The status lookup served by two checkouts' hubs at once, load runs alternating between them.

    .venv/bin/python -m bench.status_alternating --seed DIR --before CHECKOUT [--after CHECKOUT]

bench.status_pages starts a fresh hub per run, so a before/after pair is minutes apart and each
side's first seconds (templates compiled, caches filled) fall inside its window; on a shared
machine whose load moves by the minute, the pair then differs more by when it ran than by what
it ran. Here both hubs (`daiban hub run`, each on its own copy of the hub seeded as
bench.status_inprocess seeds it) are started and warmed first, then short load runs of the real
lookup alternate between them (before, after; after, before; …), BENCH_ALT_ROUNDS rounds of
BENCH_LOAD_SECONDS (default 3) with BENCH_CONNECTIONS keep-alive connections. Prints each side's
hub CPU µs per lookup (the server process's CPU over a run divided by the answers) per run and
the medians; --after defaults to this checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from tests import support

from .harness import load_average, log, median, served_from, serving_tree
from .status_inprocess import seed
from .status_pages import CONNECTIONS, load_run

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ALT_ROUNDS", "8"))


def run(seed_dir: Path, trees: dict[str, str | None]) -> dict[str, Any]:
    """Both hubs served at once, the lookup's load runs alternating; medians per side."""
    hub_dir = seed(seed_dir)
    with sqlite3.connect(hub_dir / "hub.sqlite3") as con:
        code, phone = con.execute('SELECT receipt_code, phone FROM "case" ORDER BY request_id LIMIT 1').fetchone()
    path = f"/status?code={code}&tail={phone[-4:]}"
    out: dict[str, Any] = {"connections": CONNECTIONS, "seconds": SECONDS, "load_avg": [load_average()]}
    with tempfile.TemporaryDirectory(prefix="bench-status-alt-") as tmp, contextlib.ExitStack() as stack:
        hubs = {}
        for side, tree in trees.items():
            data = Path(tmp) / side / "hub"
            shutil.copytree(hub_dir, data)
            hub = support.Service(
                "hub", data, support.free_port(), env={"DAIBAN_HUB_STATUS_LOOKUP_LIMIT": "1000000000"}
            )
            with serving_tree(tree):
                hub.start()
                out[side] = {"hub_package": served_from(), "runs": []}
            stack.callback(hub.stop)
            assert hub.proc is not None  # nosec B101 - started above
            load_run(hub.url + path, hub.proc.pid, SECONDS)  # warm: templates compiled, caches filled
            hubs[side] = hub
        order = list(hubs)
        for i in range(ROUNDS):
            for side in order if i % 2 == 0 else order[::-1]:
                hub = hubs[side]
                assert hub.proc is not None  # nosec B101 - started above
                result = load_run(hub.url + path, hub.proc.pid, SECONDS)
                if result["errors"] or not result["response_bytes"]:
                    raise RuntimeError(f"{side}: lookups failed: {result}")
                out[side]["runs"].append(result)
            out["load_avg"].append(load_average())
    for side in trees:
        runs = out[side]["runs"]
        for key in ("hub_cpu_us_per_request", "requests_per_s", "p99_ms"):
            out[side][key] = median([r[key] for r in runs])
        log(
            f"{side} ({out[side]['hub_package']}): hub CPU µs per lookup "
            f"{[r['hub_cpu_us_per_request'] for r in runs]}, median {out[side]['hub_cpu_us_per_request']}; "
            f"req/s median {out[side]['requests_per_s']}, p99 median {out[side]['p99_ms']} ms"
        )
    log(f"load average {min(out['load_avg'])}–{max(out['load_avg'])}")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", required=True, help="where the seeded hub is kept (seeded on first use)")
    ap.add_argument("--before", required=True, help="the checkout measured as before (e.g. /work/base)")
    ap.add_argument("--after", help="the checkout measured as after (default: this one)")
    args = ap.parse_args()
    print(json.dumps(run(Path(args.seed), {"before": args.before, "after": args.after}), ensure_ascii=False, indent=1))
