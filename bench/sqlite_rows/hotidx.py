"""What-if: a bench ingest's rows of each synced batch (cases, node events, hub log, audit entries)
re-inserted into an empty copy of the schema as schema 16 had it, batches of 200, with every index and
with some changed (schema 17's two changes among them).

    .venv/bin/python bench/sqlite_rows/hotidx.py EVENTS [ROUNDS] [AUDIT_PER_BATCH]

Run from the tree's root. The rows are made once (bench.profile_ingest's SQLite ingest of EVENTS
captures); then each variant runs in its own process under cachegrind (valgrind; this machine has no hardware counters), alternating, ROUNDS times:
user-space instructions and CPU ms of the INSERTs and commits (WAL, synchronous=full, foreign keys
on, 16 KiB pages, as the hub), less those of the same process doing everything but them.
Instructions are what a loaded machine disturbs little; CPU time is given beside them.
AUDIT_PER_BATCH: audit entries per batch (default: as the ingest wrote them, one per batch; a
returning batch of 200 writes up to 200 more, its duplicate flags), made by repeating the ingest's.
"""

import json
import os
import pickle  # nosec B403 - this script's own file
import statistics
import sys
import tempfile
import time
import sqlite3

# bench/sqlite_rows/, this script's directory
from cachegrind import instructions
from ingested import (
    BATCH,
    DURABLE,
    FIXED,
    empty_db,
    fixed_rows,
    ingest,
    insert_rows,
    put_rows,
    reinsert,
    schema,
    shares,
)

COVERING_NAME = "case_id_number_item_code_state_received_at_receipt_code"
COVERING = (
    f'CREATE INDEX "{COVERING_NAME}" ON "case" ("id_number", "item_code", "state", "received_at", "receipt_code")'
)
SCHEMA_16 = {
    "auditentry_hash": 'CREATE UNIQUE INDEX "auditentry_hash" ON "auditentry" ("hash")',
    "case_id_number_item_code": 'CREATE INDEX "case_id_number_item_code" ON "case" ("id_number", "item_code")',
}
VARIANTS = {
    "setup only": None,
    "all": ((), ()),
    "-auditentry_hash": (("auditentry_hash",), ()),
    "covering (id_number,item_code,state,received_at,receipt_code) for (id_number,item_code)": (
        ("case_id_number_item_code",),
        (COVERING,),
    ),
    "-case_state": (("case_state",), ()),
    "-nodeevent_event_id": (("nodeevent_event_id",), ()),
    "ceiling: case without window/state/village/assignee/id_number indexes": (
        ("case_window", "case_state", "case_village_id", "case_assignee_state", "case_id_number_item_code"),
        (),
    ),
}
TABLES = ("case", "nodeevent", "hubevent", "auditentry")


def dump(events: int, out: str, audit_per_batch: int) -> None:
    sys.path.insert(0, os.getcwd())
    c = sqlite3.connect(ingest(events)[0])
    data = {tb: list(insert_rows(c, tb)) for tb in TABLES}
    n = len(data["case"][1])
    batches = -(-n // BATCH)
    if audit_per_batch:
        ins, rows = data["auditentry"]
        seq_at, hash_at = 0, 7  # seq, at, actor, action, target, detail, prev_hash, hash
        made = []
        for i in range(batches * audit_per_batch):
            r = list(rows[i % len(rows)])
            r[seq_at] = i + 1
            r[hash_at] = os.urandom(32).hex()
            made.append(tuple(r))
        data["auditentry"][1] = made
    statements = schema(c, *FIXED, *TABLES)
    # The variants are what-ifs against schema 16: a schema 17 database's two indexes put back as they were.
    statements = [(name, q) for name, q in statements if name != COVERING_NAME]
    names = {name for name, _ in statements}
    for name, sql in SCHEMA_16.items():
        if name not in names:
            statements.append((name, sql))
    with open(out, "wb") as f:
        pickle.dump({"data": data, "n": n, "schema": statements, "fixed": fixed_rows(c)}, f)


def run(dumped: str, label: str) -> None:
    with open(dumped, "rb") as f:
        got = pickle.load(f)  # nosec B301 - written by dump() above
    tables = list(got["data"].values())  # the case rows first: one batch per BATCH of them
    per = dict(zip(got["data"], shares(tables)[1]))
    drops, adds = VARIANTS[label] or ((), ())
    t = empty_db("page_size=16384", *DURABLE, "foreign_keys=1")
    for name, s in got["schema"]:
        if name not in drops:
            t.execute(s)
    for s in adds:
        t.execute(s)
    put_rows(t, got["fixed"])
    cpu = time.process_time()
    if VARIANTS[label] is not None:
        reinsert(t, tables)
    print(json.dumps({"cpu_ms": (time.process_time() - cpu) * 1e3, "per_batch": per, "n": got["n"]}))


def perf(dumped: str, label: str) -> tuple[float, float, dict]:
    insns, out = instructions([__file__, "--run", dumped, label])
    got = json.loads(out.strip().splitlines()[-1])
    return insns, got["cpu_ms"], got


def main() -> None:
    if sys.argv[1] == "--run":
        run(sys.argv[2], sys.argv[3])
        return
    events = int(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    audit = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    dumped = tempfile.mktemp(suffix=".pickle")
    dump(events, dumped, audit)
    res: dict[str, list[tuple[float, float]]] = {}
    info = {}
    for _ in range(rounds):
        for label in VARIANTS:
            insns, cpu, info = perf(dumped, label)
            res.setdefault(label, []).append((insns, cpu))
    n = info["n"]
    base = statistics.median(i for i, _ in res["setup only"])
    print(f"{n} events, rows per batch {info['per_batch']}")
    for label, runs in res.items():
        if label == "setup only":
            continue
        ins = statistics.median((i - base) / n for i, _ in runs)
        cpus = " ".join(f"{c / n * 1e3:.1f}" for _, c in runs)
        print(f"{label:80s} {ins:8.0f} instructions/event; CPU us/event {cpus}")


if __name__ == "__main__":
    main()
