"""Bytes and CPU of the node's batch compression: zstd levels 9-11 against node.transport.zstd_body.

    .venv/bin/python -m bench.body_level [--seeds 20 21] [--calls 15]

The batches are the envelopes a node with 1,000 queued seeded captures signs (bench.compression's
signed_batches: seed 20 is the first batch of `bench.sync_link wire`'s first run). For each way of
compressing: bytes of the frame, and the median thread CPU of one compression over --calls (the ways in turn, so
the machine's load falls on all of them alike).
The wire budget counts these bytes per request (up), so a level that saves CPU is a trade only
as long as `bench.sync_link wire` stays within 120 B. Prints one JSON line per seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any, Callable

from .compression import signed_batches
from .harness import load_average


def measured(ways: dict[str, Callable[[bytes], bytes]], batch: bytes, calls: int) -> dict[str, tuple[int, float]]:
    """Per way: (bytes, median thread CPU ms) of compressing `batch`, the ways taken in turn each call."""
    spent: dict[str, list[float]] = {name: [] for name in ways}
    sizes: dict[str, int] = {}
    for _ in range(calls):
        for name, compress in ways.items():
            t = time.thread_time()
            sizes[name] = len(compress(batch))
            spent[name].append(time.thread_time() - t)
    return {name: (sizes[name], round(statistics.median(spent[name]) * 1000, 2)) for name in ways}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[20, 21])
    ap.add_argument("--calls", type=int, default=15)
    args = ap.parse_args()
    from node.transport import zstd_body
    from shared import encoding

    ways: dict[str, Callable[[bytes], bytes]] = {
        f"level{level}": (lambda b, level=level: encoding.compress_zstd(b, level)) for level in (9, 10, 11)
    }
    ways["zstd_body"] = zstd_body
    for seed in args.seeds:
        batch = signed_batches(seed, 1000)[0]
        out: dict[str, Any] = {"seed": seed, "raw": len(batch), "load_avg": load_average()}
        out.update(measured(ways, batch, args.calls))
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
