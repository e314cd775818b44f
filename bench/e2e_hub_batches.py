"""The hub's thread CPU per batch of 1,000 shaped as the e2e bench's node sends them, in one process.

    .venv/bin/python -m bench.e2e_hub_batches [--tree OLD_CHECKOUT] [--batches 10] [--profile]

`bench.sync_link e2e` queues 10,000 captures with `bench.nodefill.bulk_history`: the first 5,000
people are new, and from the 5,001st on the same villagers come back for the same items with new
receipt codes, so every capture of batches 6-10 is an open case's second application (两头受理:
kept, flagged to the window, an audit entry). This sends batches of that shape (signed, zstd body,
`Accept-Encoding: zstd`, the cursor a node holds after applying the previous answer) through the
hub's own Flask app and prints, as JSON, the thread CPU of each request (the answer's compression
included) by kind: `new` (batches of new people) and `returning` (batches of returning people),
medians in ms per batch, and the least and lower quartile of each kind (`least_ms`, `p25_ms`);
`wall_ms`: the medians of each request's wall clock (a worker thread's CPU is not in the thread's).
`--profile`: a cProfile listing of the returning batches (stderr), by own time, or by
`BENCH_PROFILE_SORT` (e.g. `cumulative`).
`--phases`: also the thread CPU of the sync path's main steps per batch, by kind (medians, ms).
`--tree` measures another checkout's hub/ and shared/ (bench/tree.py).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

# Imported before parse_args: bench.profile_ingest sets sys.path[0] to this checkout when it is first
# imported, which after parse_args would put --tree's checkout off the path (both arms measured this one).
from bench.profile_ingest import enrolled_node  # noqa: E402
from bench.tree import parse_args  # noqa: E402


def batches(prefix: str, node_id: str, key: object, count: int, size: int) -> list[tuple[str, bytes]]:
    """(kind, zstd envelope) of `count` chained batches of `size` captures, people as nodefill repeats them."""
    from bench import workload
    from shared import encoding, protocol
    from shared.receipt_codes import new_code

    rng = random.Random(10)
    times = workload.clerk_times(10, protocol.utcnow() - timedelta(days=30))
    pool: list[dict] = []
    seq, last, out = 0, protocol.GENESIS_HASH, []
    for _ in range(count):
        events, kind = [], "new"
        for i in range(size):
            if len(pool) < size * count // 2:
                pool.append(workload.captured_record(rng, prefix))
                rec = pool[-1]
            else:
                rec, kind = dict(rng.choice(pool), receipt_code=new_code(prefix, rng)), "returning"
            moment = next(times)
            request_id = protocol.new_request_id(prefix, moment)
            events.append(
                {
                    "seq": seq + 1 + i,
                    "id": protocol.new_event_id("request.captured", request_id),
                    "type": "request.captured",
                    "request_id": request_id,
                    "at": protocol.event_time(moment),
                    "clerk": "李文书",
                    "data": rec,
                }
            )
        body = protocol.batch_body(node_id, events, last, seq, catalogue_version=1, app_version="bench")
        body["cursor"] = seq  # a fresh node's captures each add one entry to its log
        out.append((kind, encoding.compress_zstd(protocol.seal(key, body))))
        seq, last = body["last_seq"], protocol.body_hash(body)
    return out


def timed_steps() -> dict[str, float]:
    """Wrap the sync path's main steps so each adds its thread CPU (ms) to the returned dict."""
    from hub import audit, cases, duplicates, ingest
    from shared import encoding, protocol

    spent: dict[str, float] = {}

    def wrap(owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)

        def timed(*args: object, **kw: object) -> object:
            t0 = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + (time.thread_time() - t0) * 1000

        setattr(owner, name, timed)

    wrap(ingest, "authenticate", "authenticate (parse, declared types, signature)")
    wrap(ingest, "prepare_ahead", "prepare_ahead (validation, JSON, receipt codes)")
    # BatchWriter reads them through known_sent (on SQLite the look-ups run there).
    wrap(duplicates, "known_sent", "duplicates.known_sent (four look-ups)")
    wrap(ingest, "_insert_values", "INSERTs of cases, events (bulk_rows)")
    wrap(audit, "record_many", "audit.record_many (the batch's entries)")
    wrap(cases, "status_body", "cases.status_body")
    wrap(ingest, "answer", "answer (updates)")
    wrap(protocol, "seal", "protocol.seal (encode, sign)")
    wrap(encoding, "compress_zstd", "the answer's zstd")
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--phases", action="store_true")
    args = parse_args(ap)
    from hub.db import database

    tmp = tempfile.mkdtemp(prefix="bench-e2e-hub-")
    app, key, enrolled = enrolled_node(f"sqlite:///{tmp}/hub.db", tmp, "测速村")
    envelopes = batches(enrolled["prefix"], enrolled["node_id"], key, args.batches, args.size)
    client = app.test_client()
    spent = timed_steps() if args.phases else {}
    steps: dict[str, dict[str, list[float]]] = {"new": {}, "returning": {}}
    prof = cProfile.Profile() if args.profile else None
    cpu: dict[str, list[float]] = {"new": [], "returning": []}
    wall: dict[str, list[float]] = {"new": [], "returning": []}
    for kind, raw in envelopes:
        if prof and kind == "returning":
            prof.enable()
        spent.clear()
        t0, w0 = time.thread_time(), time.perf_counter()
        resp = client.post(
            "/api/v1/sync",
            data=raw,
            content_type="application/json",
            headers={"Content-Encoding": "zstd", "Accept-Encoding": "zstd"},
        )
        if prof:
            prof.disable()
        assert resp.status_code == 200, resp.data[:300]
        resp.close()  # as the server does once the answer is written; the CPU counted includes it
        cpu[kind].append((time.thread_time() - t0) * 1000)
        wall[kind].append((time.perf_counter() - w0) * 1000)
        for step, ms in spent.items():
            steps[kind].setdefault(step, []).append(ms)
    if not database.is_closed():
        database.close()
    if prof:
        listing = io.StringIO()
        pstats.Stats(prof, stream=listing).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(40)
        print(listing.getvalue(), file=sys.stderr)
    print(
        json.dumps(
            {
                "tree": args.tree or "this",
                "size": args.size,
                "new_ms": round(statistics.median(cpu["new"]), 1),
                "returning_ms": round(statistics.median(cpu["returning"]), 1),
                # The least and the lower quartile of each kind: what a machine shared with others disturbs least.
                "least_ms": {k: round(min(vs), 2) for k, vs in cpu.items() if vs},
                "p25_ms": {k: round(statistics.quantiles(vs, n=4)[0], 2) for k, vs in cpu.items() if len(vs) > 1},
                "runs_ms": {k: [round(v, 1) for v in vs] for k, vs in cpu.items()},
                # Wall clock, medians: work moved to another thread leaves the request thread's CPU above.
                "wall_ms": {k: round(statistics.median(vs), 1) for k, vs in wall.items() if vs},
                "steps_ms": {k: {s: round(statistics.median(v), 1) for s, v in st.items()} for k, st in steps.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
