"""Three villages at once into a SQLite hub served as deploy/hub serves it: where the writer's turn goes.

    .venv/bin/python -m bench.sqlite_turns [--tree OLD_CHECKOUT] [--runs 3] [--events 2000] [--workers N]

The setup of `BENCH_INGEST_ONLY=concurrent .venv/bin/python -m bench.ingest` (gunicorn with the unit's
worker class, threads and the env template's workers and sync admission, bench/production.py; `--tree`
serves that checkout with --chdir as BENCH_HUB_TREE does), with gunicorn also given
bench/sqlite_turns_hooks.py. Prints, per run, as JSON lines: events/s and per hub CPU second; over
all workers per batch of 200, the read system calls and kB read (/proc/PID/io), the writer's turns
taken, the milliseconds waited for them and held (summed over the batch's requests), and the part of
both the sync counter's transaction took (hub/metrics.py); the wall milliseconds per batch (the
run's wall over its batches: the turn held that long per batch would be held all the time); the
answers 429; each worker's CPU seconds. `--workers` overrides the template's count (a what-if).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)

NODES = 3
BATCH = 200
HOOKS = Path(__file__).resolve().parent / "sqlite_turns_hooks.py"


def _totals(stats: Path) -> dict[str, float]:
    from bench.sqlite_turns_hooks import TOTALS

    totals = dict.fromkeys(TOTALS, 0.0)
    for f in stats.glob("*.json"):
        for k, v in json.loads(f.read_text()).items():
            totals[k] += v
    return totals


def _reads(pid: int) -> tuple[int, int]:
    from bench.harness import process_io
    from bench.ingest import children_cpu_seconds

    calls = read = 0
    for worker in children_cpu_seconds(pid):
        try:
            io = process_io(worker)
        except OSError:
            continue  # a worker that ended while we looked
        calls, read = calls + io["syscr"], read + io["rchar"]
    return calls, read


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="a checkout whose hub/ and shared/ gunicorn serves (--chdir)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=2000, help="captures each village sends per run")
    ap.add_argument("--workers", type=int, help="gunicorn workers instead of the env template's")
    args = ap.parse_args()
    from bench import production
    from bench.harness import WireNode, hub_codes, load_average, sqlite_url
    from bench.ingest import children_cpu_seconds, tree_cpu_seconds
    from bench.many_nodes import at_once, gunicorn
    from tests import support

    with tempfile.TemporaryDirectory(prefix="bench-sqlite-turns-") as tmp:
        stats = Path(tmp) / "turns"
        stats.mkdir()
        hub = support.make_hub(Path(tmp) / "hub", None)
        url = sqlite_url(hub.data_dir)
        gunicorn_args = [*production.serving_args(), *(["--chdir", args.tree] if args.tree else []), "-c", str(HOOKS)]
        env = {**production.admission_env(), "TURN_STATS_DIR": str(stats)}
        port = support.free_port()
        proc = gunicorn(hub.data_dir, url, port, gunicorn_args, env, workers=args.workers or production.workers())
        base = f"http://127.0.0.1:{port}"
        try:
            for run in range(args.runs):
                codes = hub_codes(url, [f"轮{run}村{i}" for i in range(NODES)])
                nodes = [WireNode(base, code, seed=9000 + 100 * run + i) for i, code in enumerate(codes)]
                work = [node.batches(args.events, BATCH) for node in nodes]
                time.sleep(1.2)  # the workers' totals written since the last run
                turns0, reads0, cpu0 = _totals(stats), _reads(proc.pid), tree_cpu_seconds(proc.pid)
                workers0, load = children_cpu_seconds(proc.pid), load_average()
                wall, tally = at_once(nodes, work)
                cpu, workers1 = tree_cpu_seconds(proc.pid) - cpu0, children_cpu_seconds(proc.pid)
                time.sleep(1.2)
                turns1, reads1 = _totals(stats), _reads(proc.pid)
                batches = NODES * len(work[0])

                def per_batch(
                    key: str, scale: float = 1000.0, t1: Any = turns1, t0: Any = turns0, n: int = batches
                ) -> float:
                    return round(scale * (t1[key] - t0[key]) / n, 2)

                row: dict[str, Any] = {
                    "events_per_s": round(NODES * args.events / wall),
                    "events_per_hub_cpu_s": round(NODES * args.events / cpu),
                    "read_calls_per_batch": round((reads1[0] - reads0[0]) / batches, 1),
                    "kB_read_per_batch": round((reads1[1] - reads0[1]) / batches / 1024),
                    "turns_per_batch": per_batch("takes", 1.0),
                    "turn_wait_ms_per_batch": per_batch("wait_s"),
                    "turn_held_ms_per_batch": per_batch("hold_s"),
                    "counter_wait_ms_per_batch": per_batch("counter_wait_s"),
                    "counter_held_ms_per_batch": per_batch("counter_hold_s"),
                    "wall_ms_per_batch": round(1000 * wall / batches, 2),
                    "refused_429": tally.refused,
                    "errors": len(tally.errors),
                    "worker_cpu_s": sorted(
                        (round(t - workers0.get(w, 0.0), 2) for w, t in workers1.items()), reverse=True
                    ),
                    "load_avg": load,
                    "tree": args.tree or "this",
                }
                print(json.dumps(row, ensure_ascii=False), flush=True)
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
