"""Thread CPU of the two steps of a sync batch before its lock: `authenticate` and `prepare_ahead`.

    .venv/bin/python -m bench.prepare_ahead [--passes 7] [--tree OLD_CHECKOUT]

The e2e bench's batches of 1,000 (`bench.e2e_hub_batches.batches`: five of new villagers, five of
returning ones, signed, zstd) are decompressed once; then, in one process with the collector paused
as `hub.ingest.handle_sync` pauses it, each pass runs `hub.nodeauth.authenticate` (parse, declared
types, signature, the node row) and `hub.ingest.prepare_ahead` (validation, JSON, receipt codes) on
every batch, without the transaction after them. Prints, as JSON, the least and the median ms per
batch of each step by kind over all passes, and the `hub` package measured (so `--tree` shows it
measured that checkout). The least is the figure a machine shared with others disturbs least.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

# Before parse_args: bench.profile_ingest sets sys.path[0] when first imported (see bench.e2e_hub_batches).
from bench.profile_ingest import enrolled_node  # noqa: E402
from bench.tree import parse_args  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=7)
    args = parse_args(ap)
    import hub
    from bench.e2e_hub_batches import batches
    from hub.db import database
    from hub.ingest import no_cycle_collection, prepare_ahead
    from hub.nodeauth import authenticate
    from shared import encoding, messages

    tmp = tempfile.mkdtemp(prefix="bench-prepare-ahead-")
    app, key, enrolled = enrolled_node(f"sqlite:///{tmp}/hub.db", tmp, "测速村")
    bodies = [
        (kind, encoding.decompress_zstd(envelope, 1 << 26))
        for kind, envelope in batches(enrolled["prefix"], enrolled["node_id"], key, 10, 1000)
    ]
    spent: dict[str, dict[str, list[float]]] = {"authenticate": {}, "prepare_ahead": {}}
    with app.app_context(), database.connection_context(), no_cycle_collection():
        for _ in range(args.passes):
            for kind, raw in bodies:
                t0 = time.thread_time()
                auth = authenticate(raw, messages.decode_sync)
                t1 = time.thread_time()
                prepare_ahead(auth.node, auth.body)
                t2 = time.thread_time()
                spent["authenticate"].setdefault(kind, []).append((t1 - t0) * 1000)
                spent["prepare_ahead"].setdefault(kind, []).append((t2 - t1) * 1000)
    print(
        json.dumps(
            {
                "hub": str(Path(hub.__file__).parent),
                "least_ms": {s: {k: round(min(v), 2) for k, v in by.items()} for s, by in spent.items()},
                "median_ms": {s: {k: round(statistics.median(v), 2) for k, v in by.items()} for s, by in spent.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
