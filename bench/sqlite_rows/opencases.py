"""What-if: hub/duplicates.open_codes of a returning batch's 1,000 people on the e2e bench's hub after
9 batches of 1,000 (5 new, 4 returning: 9,000 cases), 1,000 of its people, with the person index as schema 16 had it,
(id_number, item_code), and as schema 17 has it, covering; alternating in one process.

    .venv/bin/python bench/sqlite_rows/opencases.py [ROUNDS] [--pg]

CPU ms per look-up, the least of 20, per round; and each variant's EXPLAIN QUERY PLAN. `--pg`: the
same hub on a fresh PostgreSQL database (after VACUUM ANALYZE, as autovacuum leaves a table), the
look-up as `known_sent` makes it there (the batch's one statement, `_KNOWN_SQL`, with only people
asked), wall ms (the server's work), and EXPLAIN of it.
"""

import contextlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
from bench.e2e_hub_batches import batches
from bench.harness import pg_database, sqlite_url
from bench.profile_ingest import enrolled_node
from hub import duplicates
from hub.db import database

PG = "--pg" in sys.argv
tmp = tempfile.mkdtemp()
kept = contextlib.ExitStack()  # the database dropped at exit
pg_url = kept.enter_context(pg_database()) if PG else None
app, key, enrolled = enrolled_node(pg_url or sqlite_url(Path(tmp)), tmp, "测速村")
made = batches(enrolled["prefix"], enrolled["node_id"], key, 10, 1000)
client = app.test_client()
headers = {"Content-Encoding": "zstd", "Accept-Encoding": "zstd"}
for _kind, raw in made[:9]:
    assert client.post("/api/v1/sync", data=raw, content_type="application/json", headers=headers).status_code == 200

database.connect(reuse_if_open=True)
# A returning batch's people: 1,000 of those the hub holds (the e2e bench's returning villagers come from them).
pairs = sorted(set(database.execute_sql('SELECT id_number, item_code FROM "case"').fetchall()))
people = random.Random(10).sample(pairs, 1000)

OLD = 'CREATE INDEX "case_id_number_item_code" ON "case" ("id_number", "item_code")'
NEW = 'CREATE INDEX "case_cov" ON "case" ("id_number", "item_code", "state", "received_at", "receipt_code")'
res = {"(id_number, item_code)": [], "covering": []}
for name in [i.name for i in database.get_indexes("case") if i.columns[:1] == ["id_number"]]:
    database.execute_sql(f'DROP INDEX "{name}"')
args = [a for a in sys.argv[1:] if a != "--pg"]
rounds = int(args[0]) if args else 3
if PG:
    database.execute_sql("COMMIT") if database.in_transaction() else None
    database.obj.connection().autocommit = True
    database.execute_sql('VACUUM ANALYZE "case"')
    ids = sorted({i for i, _ in people})
    known_sql = duplicates._KNOWN_SQL.format(p="%s")
    known_args = [ids, duplicates.CLOSED, [], [], []]
    clock = time.perf_counter
else:
    clock = time.process_time
for _ in range(rounds):
    for label, ddl, drop in (
        ("(id_number, item_code)", OLD, "case_id_number_item_code"),
        ("covering", NEW, "case_cov"),
    ):
        database.execute_sql(ddl)
        if PG:
            database.execute_sql('ANALYZE "case"')
            look = lambda: database.execute_sql(known_sql, known_args).fetchall()  # noqa: E731
        else:
            look = lambda: duplicates.open_codes(people)  # noqa: E731
        found = duplicates.open_codes(people)
        best = 1e9
        for _ in range(20):
            cpu = clock()
            look()
            best = min(best, clock() - cpu)
        res[label].append(best * 1e3)
        if PG:
            plan = [r[0][:90] for r in database.execute_sql("EXPLAIN " + known_sql, known_args).fetchall()]
        else:
            plan = database.execute_sql(
                'EXPLAIN QUERY PLAN SELECT "id_number", "item_code", "receipt_code", "received_at" FROM "case" '
                "WHERE id_number IN (?, ?) AND state NOT IN ('approved')",
                ["a", "b"],
            ).fetchall()
        print(label, plan)
        database.execute_sql(f'DROP INDEX "{drop}"')
print(f"{len(set(people))} people, {len(found)} with an open case")
for k, v in res.items():
    print(f"{k:25s}", " ".join(f"{x:.2f}" for x in v), "ms", "wall" if PG else "CPU", "(least of 20)")
database.close()
kept.close()  # the PostgreSQL database dropped now: left to the interpreter's exit, the drop failed and it stayed
