"""Bytes per event a bench ingest stores, and a what-if: the node events' rows re-inserted with and without a capture's data."""

import json
import os
import sys
import tempfile
import time
import sqlite3

sys.path.insert(0, os.getcwd())
# ingested: bench/sqlite_rows/, this script's directory
from ingested import DURABLE, ingest, insert_rows, opened, reinsert, schema

c = sqlite3.connect(ingest(int(sys.argv[1]))[0])
n = c.execute("select count(*) from nodeevent").fetchone()[0]
print("node events", n, "cases", c.execute('select count(*) from "case"').fetchone()[0])
for name, mb in c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 16"):
    print(f"  {name:28s} {mb / n:8.0f} bytes/event (pages)")
print("avg nodeevent.body", c.execute("select avg(length(body)) from nodeevent").fetchone())
print("avg case.captured", c.execute('select avg(length(captured)) from "case"').fetchone())
print("avg hubevent.body", c.execute("select avg(length(body)) from hubevent").fetchone())
print(
    "captured == body.data",
    c.execute(
        "select sum(json(c.captured) = json_extract(e.body, '$.data')), count(*) from \"case\" c join nodeevent e on e.request_id = c.request_id and e.type = 'request.captured'"
    ).fetchone(),
)
print(
    "nodeevent cols avg",
    c.execute(
        "select avg(length(type)), avg(length(event_id)), avg(length(request_id)), avg(length(result)), sum(reason is not null) from nodeevent"
    ).fetchone(),
)
# what-if: the same rows into an empty copy of the schema, with and without the capture's data in the body
ins, rows = insert_rows(c, "nodeevent")  # node_id, seq, event_id, type, request_id, body, result, reason_code, reason
slim = [
    r[:5]
    + (
        json.dumps(
            {k: v for k, v in json.loads(r[5]).items() if k != "data"}, ensure_ascii=False, separators=(",", ":")
        ),
    )
    + r[6:]
    for r in rows
]
print("avg slim body", sum(len(r[5]) for r in slim) / len(slim))
statements = schema(c, "nodeevent")
for label, data in (("full", rows), ("slim", slim), ("full", rows), ("slim", slim), ("full", rows), ("slim", slim)):
    d = tempfile.mkdtemp()
    t = opened(f"{d}/x.db", *DURABLE)
    for _name, s in statements:
        t.execute(s.replace('REFERENCES "node" ("id")', ""))
    cpu = time.process_time()
    wall = time.perf_counter()
    reinsert(t, [(ins, data)])
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    print(
        f"what-if {label}: {cpu / len(data) * 1e6:.1f} us CPU/event, {wall / len(data) * 1e6:.1f} us wall/event, wal {os.path.getsize(d + '/x.db-wal') / len(data):.0f} bytes/event"
    )
