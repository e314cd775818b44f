"""What-if: a bench ingest's case rows re-inserted into an empty copy of the schema, with all indexes and with one dropped."""

import os
import sys
import time
import sqlite3

sys.path.insert(0, os.getcwd())
# ingested: bench/sqlite_rows/, this script's directory
from ingested import DURABLE, empty_db, ingest, insert_rows, reinsert, schema

c = sqlite3.connect(ingest(int(sys.argv[1]))[0])
ins, rows = insert_rows(c, "case")
tables = schema(c, "case")
res = {}
for _rep in range(3):
    for drop in ("", "case_window", "case_state", "case_village_id"):
        t = empty_db(*DURABLE)
        for name, s in tables:
            if name != drop:
                t.execute(s)
        cpu = time.process_time()
        reinsert(t, [(ins, rows)])
        res.setdefault(drop or "all", []).append((time.process_time() - cpu) / len(rows) * 1e6)
for k, v in res.items():
    print(k, " ".join(f"{x:.1f}" for x in v), "us CPU per case")
