"""What-if: a bench ingest's case and node event rows re-inserted with their JSON text bound as str or as
its UTF-8 bytes cast to TEXT in the INSERT (shared.bulk_rows.TextBytes), CPU µs per event of executemany.

    .venv/bin/python bench/sqlite_rows/text_bytes.py EVENTS   # from the tree's root

The JSON columns (`case.captured`, `nodeevent.body`) are made fresh for each run as ingest makes
them: a str decoded from msgspec's bytes (no UTF-8 form cached yet), or those bytes. Batches of 200
rows in one transaction each, `synchronous=full`, foreign keys on, into an empty copy of the schema.
"""

import os
import shutil
import sqlite3
import sys
import time

sys.path.insert(0, os.getcwd())
# ingested: bench/sqlite_rows/, this script's directory
from ingested import BATCH, DURABLE, ingest, insert_sql, opened, table_rows

events = int(sys.argv[1])
hub_file = ingest(events)[0]
path = os.path.dirname(hub_file)
src = sqlite3.connect(hub_file)
json_columns = {"case": "captured", "nodeevent": "body"}
data = {}
for tb, json_column in json_columns.items():
    cols, rows = table_rows(src, tb)
    at = cols.index(json_column)
    data[tb] = (cols, at, [[v.encode() if i == at and v is not None else v for i, v in enumerate(r)] for r in rows])
src.execute(f"vacuum into '{path}/empty.sqlite3'")
src.close()
empty = sqlite3.connect(f"{path}/empty.sqlite3")
for tb in json_columns:
    empty.execute(f'delete from "{tb}"')  # nosec B608
empty.commit()
empty.close()
res: dict[str, list[float]] = {"str": [], "bytes": []}
for _rep in range(3):
    for kind in ("str", "bytes"):
        shutil.copy(f"{path}/empty.sqlite3", f"{path}/t.sqlite3")
        t = opened(f"{path}/t.sqlite3", *DURABLE, "foreign_keys=on")
        cpu = 0.0
        for start in range(0, events, BATCH):
            t.execute("begin immediate")
            for tb, (cols, at, rows) in data.items():
                marks = ["CAST(? AS TEXT)" if i == at and kind == "bytes" else "?" for i in range(len(cols))]
                chunk = [
                    tuple(v.decode() if kind == "str" and i == at and v is not None else v for i, v in enumerate(r))
                    for r in rows[start : start + BATCH]
                ]
                sql = insert_sql(tb, cols, marks)
                c0 = time.thread_time()
                t.executemany(sql, chunk)
                cpu += time.thread_time() - c0
            c0 = time.thread_time()
            t.execute("commit")
            cpu += time.thread_time() - c0
        kinds = t.execute(
            "select count(*) from \"nodeevent\" where typeof(body) != 'text' union all "
            "select count(*) from \"case\" where typeof(captured) != 'text'"
        ).fetchall()
        assert kinds == [(0,), (0,)], kinds
        t.close()
        res[kind].append(round(cpu / events * 1e6, 1))
print(res)
