"""CPU µs per event of `hub.ingest.prepare_batch`: the hub's pure work per synced capture before its transaction.

The ingest bench's own events (`bench.workload.wire_events`, seed 1) in batches of 200, the
collector paused as `hub.ingest.handle_sync` pauses it; one pass over all of them is timed
`--passes` times after a warm-up pass. The least pass is the figure a loaded machine disturbs
least (docs/performance.md, "Hub ingest: a capture's preparation without copies or second
encodings"); run it alternating with `--tree OLD_CHECKOUT`.

    .venv/bin/python -m bench.prepare_batch [--events 2000] [--passes 25] [--tree OLD_CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)


def main() -> None:
    """Print the least and the median CPU µs per event of prepare_batch over the passes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--passes", type=int, default=25)
    from bench.tree import parse_args

    args = parse_args(ap)
    from bench import workload
    from hub.ingest import no_cycle_collection, prepare_batch
    from shared.catalogue import Catalogue

    catalogue, prefix = Catalogue.default(), "AB"
    events = workload.wire_events(random.Random(1), prefix, 1, args.events)
    batches = [events[i : i + 200] for i in range(0, len(events), 200)]
    passes = []
    with no_cycle_collection():
        for _ in range(args.passes + 1):
            cpu0 = time.process_time()
            for batch in batches:
                prepare_batch(batch, prefix, catalogue)
            passes.append((time.process_time() - cpu0) / len(events) * 1e6)
    passes = passes[1:]  # the first pass warms the catalogue's capture plans
    print(
        json.dumps(
            {
                "prepare_batch_us_least": round(min(passes), 2),
                "prepare_batch_us_median": round(statistics.median(passes), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
