"""User-space instructions per event of a whole SQLite ingest in one process (cachegrind: this machine
has no hardware counters), for a checkout's hub against another's: what a loaded machine disturbs little.

    .venv/bin/python bench/sqlite_rows/ingest_insns.py TREE [TREE ...]

Per tree, bench.profile_ingest's SQLite ingest (batches of 200, the tree's hub/ and shared/ first on
the path) of 400 and of 2,400 events, each in its own process under cachegrind; the difference of
the two counts over 2,000 events is the ingest's instructions per event, set-up and start-up
(identical in both) left out. Trees alternate.
"""

import os
import sys
import tempfile

from cachegrind import instructions  # bench/sqlite_rows/, this script's directory

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(os.path.dirname(SCRIPTS))


def count(tree: str, events: int) -> float:
    code = (
        f"import sys; sys.path[:0] = [{tree!r}, {HERE!r}, {SCRIPTS!r}]; from ingested import ingest; ingest({events})"
    )
    return instructions(["-c", code], cwd=tempfile.gettempdir())[0]


for tree in sys.argv[1:]:
    small, large = count(tree, 400), count(tree, 2400)
    print(
        f"{tree}: {(large - small) / 2000:,.0f} instructions per event ({small:,.0f} at 400, {large:,.0f} at 2,400)",
        flush=True,
    )
