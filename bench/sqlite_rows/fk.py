"""What-if: a bench ingest's case, node event and hub log rows re-inserted, foreign keys checked (as the hub) or not."""

import os
import sys
import tempfile
import time
import sqlite3

sys.path.insert(0, os.getcwd())
from bench.profile_ingest import ingest_cpu

path = tempfile.mkdtemp()
ingest_cpu(f"sqlite:///{path}/hub.sqlite3", 200, int(sys.argv[1]), False)
src = f"{path}/hub.sqlite3"
c = sqlite3.connect(src)
tables = ("case", "nodeevent", "hubevent")
data = {}
for tb in tables:
    cols = [r[1] for r in c.execute(f'pragma table_info("{tb}")') if r[1] != "id"]
    q = ",".join(f'"{x}"' for x in cols)
    data[tb] = (
        f'insert into "{tb}" ({q}) values ({",".join("?" * len(cols))})',
        c.execute(f'select {q} from "{tb}"').fetchall(),
    )
res = {}
for _rep in range(3):
    for fk in (1, 0):
        d = tempfile.mkdtemp()
        t = sqlite3.connect(f"{d}/x.db", isolation_level=None)
        t.execute(f"attach '{src}' as s")
        for (s,) in c.execute(
            "select sql from sqlite_master where tbl_name in ('village','node','case','nodeevent','hubevent') and sql is not null"
        ):
            t.execute(s)
        t.execute("insert into village select * from s.village")
        t.execute("insert into node select * from s.node")
        t.execute("detach s")
        t.execute("pragma journal_mode=wal")
        t.execute("pragma synchronous=full")
        t.execute(f"pragma foreign_keys={fk}")
        n = len(data["case"][1])
        cpu = time.process_time()
        for i in range(0, n, 200):
            t.execute("begin")
            for tb in tables:
                ins, rows = data[tb]
                t.executemany(ins, rows[i : i + 200])
            t.execute("commit")
        res.setdefault(f"foreign_keys={fk}", []).append((time.process_time() - cpu) / n * 1e6)
for k, v in res.items():
    print(k, " ".join(f"{x:.1f}" for x in v), "us CPU per event (case + node event + hub entry, commit included)")
