"""SQLite ingest CPU per event (bench.profile_ingest.ingest_cpu) with a page size set on the new database."""

import json
import sys
import time
import os

sys.path.insert(0, os.getcwd())
import hub.db as d

# ingested: bench/sqlite_rows/, this script's directory; `ingest` imports the ingest when called, after the patch below
from ingested import ingest

size = int(sys.argv[1])
events = int(sys.argv[2])
if size:  # 0: the tree's own pragmas (run from another tree's root to measure that tree)
    d.SQLITE_PRAGMAS = {"page_size": size, **{k: v for k, v in d.SQLITE_PRAGMAS.items() if k != "page_size"}}

w = time.perf_counter()
hub_file, rate = ingest(events)
w = time.perf_counter() - w
import sqlite3  # noqa: E402

c = sqlite3.connect(hub_file)
ps = c.execute("pragma page_size").fetchone()[0]
pc = c.execute("pragma page_count").fetchone()[0]
print(
    json.dumps(
        {
            "page_size": ps,
            "events": events,
            "ev_per_cpu_s": rate,
            "wall_s": round(w, 2),
            "db_mb": round(ps * pc / 1e6, 1),
        }
    )
)
