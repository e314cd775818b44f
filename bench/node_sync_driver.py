"""A node process that runs the real sync client until its queue is empty, and reports how long it took.

    python -m bench.node_sync_driver --dir NODE_DIR [--hub URL] [--retry]

With --retry a failed round is retried after the scheduler's own backoff, as `daiban node run` would.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time


def main() -> None:
    """Sync once (or until done with --retry) and print a JSON report on stdout."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--hub", default=None, help="hub URL instead of the enrolled one (e.g. a shaping proxy)")
    ap.add_argument("--retry", action="store_true")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    os.environ["DAIBAN_NODE_DIR"] = args.dir

    from node import create_app, meta, outbox, scheduler
    from node.db import database
    from node.sync import SyncClient
    from node.transport import HttpTransport, TransportError

    app = create_app()
    with database.connection_context():
        hub_url = args.hub or meta.get("hub_url")
        queued_before = outbox.queued_count()
    client = SyncClient(HttpTransport(hub_url, timeout=args.timeout), app.extensions["daiban_node_key"])
    rng = random.Random(1)
    failures, waited, errors = 0, 0.0, []
    t0 = time.perf_counter()
    c0 = time.process_time()
    acked = updates = batches = 0
    while True:
        try:
            report = client.round()
            acked += report.acked
            updates += report.updates
            batches += report.batches
            break
        except TransportError as exc:
            failures += 1
            errors.append(exc.code)
            if not args.retry or failures > 50:
                break
            delay = scheduler.backoff_delay(failures, rng)
            waited += delay
            time.sleep(delay)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    with database.connection_context():
        queued_after = outbox.queued_count()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "queued_before": queued_before,
                "queued_after": queued_after,
                "acked": acked,
                "updates": updates,
                "batches": batches,
                "failures": failures,
                "backoff_s": waited,
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
