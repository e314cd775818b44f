"""Hub ingest in one process (Flask test client): events per CPU second, optionally a cProfile listing.

    python -m bench.profile_ingest [--profile] [--size 200] [--events 2000] [--collector] [--freeze] [--nul]

`--collector` also prints the CPU ms Python's cycle collector took during the ingest and how many
collections ran; `--freeze` moves every object of the loaded app out of the collector's reach
(`gc.freeze()`) before the ingest starts, as a server could after loading the app.

`--nul` times only the two refusals of U+0000 on the sync path, for one signed batch of `--size`
captures: the apps' `before_request` hook (shared/request_values.py) on POST /api/v1/sync, and
whether it read the body; and `protocol.refuse_nul` over the decoded message as `authenticate`
calls it (with the raw bytes) and as a walk over every field (without them).

To compare with an older commit, run this file with that commit's tree first on the path, e.g.
`git worktree add /tmp/old COMMIT && PYTHONPATH=/tmp/old:. python bench/profile_ingest.py --tree /tmp/old`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)


def enrolled_node(url: str, data_dir: str, village: str) -> tuple[Any, Any, dict[str, Any]]:
    """A hub app on `url` (migrated) with one node of `village` enrolled: (app, the node's key, the
    enrolment's answer: node_id, prefix). Also used by bench/same_rows.py."""
    from hub import create_app
    from hub.db import database
    from hub.enrolment import issue_code
    from hub.schema import migrate
    from shared import signing
    from tests.nodesim import enrol

    app = create_app({"TESTING": True, "DATA_DIR": data_dir, "DATABASE_URL": url, "SECRET_KEY": "x"})
    with database.connection_context():
        migrate()
        code = issue_code(village)
    key = signing.generate_key()
    status, body = enrol(app.test_client(), code, key)
    assert status == 200, body
    return app, key, body


def enrolled_hub(url: str, size: int, total: int) -> tuple[Any, list[bytes]]:
    """A hub app on `url` with one enrolled node, and that node's `total` captures in signed, deflated
    batches of `size` (signed before any timing starts). Also used by bench/pg_ingest.py."""
    from bench import workload
    from shared import protocol

    app, key, body = enrolled_node(url, tempfile.mkdtemp(), "测速村")
    rng, seq, last, envelopes = random.Random(1), 0, protocol.GENESIS_HASH, []
    while seq < total:
        events = workload.wire_events(rng, body["prefix"], seq + 1, min(size, total - seq))
        batch = protocol.batch_body(body["node_id"], events, last, seq, catalogue_version=1, app_version="bench")
        envelopes.append(zlib.compress(protocol.seal(key, batch)))
        seq, last = batch["last_seq"], protocol.body_hash(batch)
    return app, envelopes


class CollectorClock:
    """CPU time Python's cycle collector takes, and how many collections run, while installed."""

    def __init__(self) -> None:
        self.cpu, self.runs, self._started = 0.0, 0, 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.cpu += time.process_time() - self._started
            self.runs += 1


def ingest_cpu(
    url: str, size: int, total: int, profile: bool, collector: CollectorClock | None = None, freeze: bool = False
) -> tuple[int, str]:
    """Events per CPU second of this process for `total` captures in batches of `size`; and the profile."""
    from hub.db import database

    app, envelopes = enrolled_hub(url, size, total)
    client = app.test_client()
    if freeze:
        gc.collect()
        gc.freeze()
    if collector is not None:
        gc.callbacks.append(collector)
    prof = cProfile.Profile() if profile else None
    cpu0 = time.process_time()
    if prof:
        prof.enable()
    for raw in envelopes:
        resp = client.post(
            "/api/v1/sync", data=raw, content_type="application/json", headers={"Content-Encoding": "deflate"}
        )
        assert resp.status_code == 200, resp.data[:300]
    if prof:
        prof.disable()
    cpu = time.process_time() - cpu0
    if collector is not None:
        gc.callbacks.remove(collector)
    if freeze:
        gc.unfreeze()
    listing = ""
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
        listing = out.getvalue()
    if not database.is_closed():
        database.close()
    return round(total / cpu), listing


def nul_checks_us(size: int, passes: int = 30) -> dict[str, Any]:
    """CPU µs per call of each U+0000 refusal on a signed batch of `size` captures (least of `passes`)."""
    from flask import Flask, request

    from bench import workload
    from shared import protocol, request_values, signing

    events = workload.wire_events(random.Random(1), "CS", 1, size)
    batch = protocol.batch_body("n-bench", events, protocol.GENESIS_HASH, 0, catalogue_version=1, app_version="bench")
    raw = protocol.seal(signing.generate_key(), batch)
    body, _ = protocol.parse_envelope(raw)

    def least(call: Any, number: int) -> float:
        best = float("inf")
        for _ in range(passes):
            cpu0 = time.process_time()
            for _ in range(number):
                call()
            best = min(best, (time.process_time() - cpu0) / number)
        return round(best * 1e6, 2)

    app = Flask(__name__)
    app.add_url_rule("/api/v1/sync", "sync", lambda: "", methods=["POST"])
    with app.test_request_context(
        "/api/v1/sync", method="POST", data=zlib.compress(raw), content_type="application/json"
    ):
        hook = least(request_values.refuse_nul, 1000)
        body_read = "form" in request.__dict__ or request.stream.tell() > 0
    return {
        "message_bytes": len(raw),
        "before_request_hook_us": hook,
        "hook_read_the_body": body_read,
        "refuse_nul_with_raw_us": least(lambda: protocol.refuse_nul(body, raw), 100),
        "refuse_nul_walk_us": least(lambda: protocol.refuse_nul(body), 5),
    }


def main() -> None:
    """SQLite, then PostgreSQL when a server answers."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--collector", action="store_true", help="print the cycle collector's CPU ms and runs")
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() the loaded app before the ingest")
    ap.add_argument("--nul", action="store_true", help="only: CPU µs of the two U+0000 refusals on a batch")
    from bench.tree import parse_args

    args = parse_args(ap)
    if args.nul:
        print(json.dumps(nul_checks_us(args.size)))
        return
    from bench.harness import pg_database

    out: dict[str, Any] = {}
    clock = CollectorClock() if args.collector else None
    rate, listing = ingest_cpu(
        f"sqlite:///{tempfile.mkdtemp()}/hub.sqlite3", args.size, args.events, args.profile, clock, args.freeze
    )
    out["sqlite_events_per_cpu_s"] = rate
    if clock is not None:
        out["sqlite_collector_cpu_ms"], out["sqlite_collections"] = round(clock.cpu * 1000, 2), clock.runs
    print(listing, file=sys.stderr)
    with pg_database() as pg:
        if pg:
            clock = CollectorClock() if args.collector else None
            out["postgresql_events_per_hub_cpu_s"], listing = ingest_cpu(
                pg, args.size, args.events, args.profile, clock, args.freeze
            )
            if clock is not None:
                out["postgresql_collector_cpu_ms"], out["postgresql_collections"] = (
                    round(clock.cpu * 1000, 2),
                    clock.runs,
                )
            print(listing, file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
