"""A node process that runs the real sync client until its queue is empty, and reports how long it took.

    python -m bench.node_sync_driver --dir NODE_DIR [--hub URL] [--retry]

With --retry a failed round is retried after the scheduler's own backoff, as `daiban node run` would,
but only for what a link does (drops, timeouts, a busy hub) and only within --give-up-s: a hub
answering 5xx is broken, not slow, and the real node's patient backoff (up to 300 s a try, 50
tries) made such a run look like a hang with nothing printed. Every failure is logged on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

# A hub that answers 5xx has a bug to read in its log; waiting longer will not move a benchmark.
NOT_A_LINK_FAULT = {"server_error"}


def main() -> None:
    """Sync once (or until done with --retry) and print a JSON report on stdout."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--hub", default=None, help="hub URL instead of the enrolled one (e.g. a shaping proxy)")
    ap.add_argument("--retry", action="store_true")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--give-up-s", type=float, default=600.0, help="stop retrying once this much time has passed")
    args = ap.parse_args()
    os.environ["DAIBAN_NODE_DIR"] = args.dir

    from node import create_app, meta, outbox, scheduler
    from node.db import database
    from node.sync import SyncClient
    from node.transport import BusyError, HttpTransport, TransportError

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
            retry_after = exc.retry_after if isinstance(exc, BusyError) else 0.0
            delay = scheduler.backoff_delay(failures, rng, retry_after)
            elapsed = time.perf_counter() - t0
            give_up = not args.retry or exc.code in NOT_A_LINK_FAULT or elapsed + delay > args.give_up_s
            print(
                f"node_sync_driver: round failed after {elapsed:.1f} s: {exc.code} {exc.message}"
                + ("; giving up" if give_up else f"; retrying in {delay:.1f} s"),
                file=sys.stderr,
                flush=True,
            )
            if give_up:
                break
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
