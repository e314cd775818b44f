"""What a served SQLite hub reads per synced batch, beside its events/s and events per hub CPU second.

    .venv/bin/python -m bench.sqlite_reads [--tree OLD_CHECKOUT] [--events 6000] [--threads 8]

One node at a time posts `--events` captures in batches of 200 to `daiban hub run` (waitress with
`--threads` server threads, the command's default 8) on a fresh SQLite file, as `bench.ingest` does.
Prints, as JSON, the hub process's read system calls and kilobytes read per batch (/proc/PID/io:
SQLite's page reads from the database and its WAL, and the requests' bodies from their sockets),
its wall events/s and its events per CPU second. SQLite drops a connection's page cache when another
connection wrote since its last read: which connection a request runs on shows here
(docs/performance.md, "Hub ingest on SQLite: the last request's connection (session 15)").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.tree import parse_args  # noqa: E402


def _io(pid: int) -> tuple[int, int]:
    from bench.harness import process_io

    counters = process_io(pid)
    return counters["syscr"], counters["rchar"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=6000)
    ap.add_argument("--threads", type=int, default=8)
    args = parse_args(ap)
    from bench.harness import WireNode, cpu_seconds, hub_codes, load_average, serving_tree, sqlite_url
    from bench.ingest import timed_ingest
    from tests import support

    with tempfile.TemporaryDirectory(prefix="bench-sqlite-reads-") as tmp:
        with serving_tree(args.tree):
            hub = support.make_hub(Path(tmp), None)
            hub.extra = ["--threads", str(args.threads)]
            hub.start()
        try:
            node = WireNode(hub.url, hub_codes(sqlite_url(hub.data_dir), ["读页村"])[0], seed=900)
            envelopes = node.batches(args.events, 200)
            reads0, read0 = _io(hub.proc.pid)
            cpu0 = cpu_seconds(hub.proc.pid)
            secs, accepted = timed_ingest(node, envelopes)
            reads1, read1 = _io(hub.proc.pid)
            cpu = cpu_seconds(hub.proc.pid) - cpu0
        finally:
            hub.stop()
    batches = len(envelopes)
    print(
        json.dumps(
            {
                "tree": args.tree or "this",
                "threads": args.threads,
                "reads_per_batch": round((reads1 - reads0) / batches, 1),
                "kb_read_per_batch": round((read1 - read0) / batches / 1024),
                "events_per_s": round(accepted / secs),
                "events_per_cpu_s": round(accepted / cpu),
                "load_avg": load_average(),
            }
        )
    )


if __name__ == "__main__":
    main()
