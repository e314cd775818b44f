"""What-if: a bench ingest's case rows re-inserted into an empty copy of the schema, with all indexes and with one dropped."""

import os
import sys
import tempfile
import time
import sqlite3

sys.path.insert(0, os.getcwd())
from bench.profile_ingest import ingest_cpu

path = tempfile.mkdtemp()
ingest_cpu(f"sqlite:///{path}/hub.sqlite3", 200, int(sys.argv[1]), False)
c = sqlite3.connect(f"{path}/hub.sqlite3")
cols = [r[1] for r in c.execute('pragma table_info("case")')]
rows = c.execute(f'select {",".join(chr(34) + x + chr(34) for x in cols)} from "case" order by rowid').fetchall()
schema = [s for (s,) in c.execute("select sql from sqlite_master where tbl_name='case' and sql is not null")]
ins = f'insert into "case" ({",".join(chr(34) + x + chr(34) for x in cols)}) values ({",".join("?" * len(cols))})'
res = {}
for _rep in range(3):
    for drop in ("", "case_window", "case_state", "case_village_id"):
        d = tempfile.mkdtemp()
        t = sqlite3.connect(f"{d}/x.db", isolation_level=None)
        t.execute("pragma journal_mode=wal")
        t.execute("pragma synchronous=full")
        for s in schema:
            if drop and f'"{drop}"' in s:
                continue
            t.execute(s)
        cpu = time.process_time()
        for i in range(0, len(rows), 200):
            t.execute("begin")
            t.executemany(ins, rows[i : i + 200])
            t.execute("commit")
        res.setdefault(drop or "all", []).append((time.process_time() - cpu) / len(rows) * 1e6)
for k, v in res.items():
    print(k, " ".join(f"{x:.1f}" for x in v), "us CPU per case")
