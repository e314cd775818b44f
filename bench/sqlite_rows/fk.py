"""What-if: a bench ingest's case, node event and hub log rows re-inserted, foreign keys checked (as the hub) or not."""

import os
import sys
import time
import sqlite3

sys.path.insert(0, os.getcwd())
# ingested: bench/sqlite_rows/, this script's directory
from ingested import DURABLE, FIXED, empty_db, fixed_rows, ingest, insert_rows, put_rows, reinsert, schema

c = sqlite3.connect(ingest(int(sys.argv[1]))[0])
tables = ("case", "nodeevent", "hubevent")
data = [insert_rows(c, tb) for tb in tables]
statements = schema(c, *FIXED, *tables)
fixed = fixed_rows(c)
n = len(data[0][1])
res = {}
for _rep in range(3):
    for fk in (1, 0):
        t = empty_db(*DURABLE, f"foreign_keys={fk}")
        for _name, s in statements:
            t.execute(s)
        put_rows(t, fixed)
        cpu = time.process_time()
        reinsert(t, data)
        res.setdefault(f"foreign_keys={fk}", []).append((time.process_time() - cpu) / n * 1e6)
for k, v in res.items():
    print(k, " ".join(f"{x:.1f}" for x in v), "us CPU per event (case + node event + hub entry, commit included)")
