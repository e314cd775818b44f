"""Single steps of the hub's sync path, each timed alone: figures a loaded machine disturbs little.

    .venv/bin/python -m bench.hub_steps [--tree OLD_CHECKOUT]

- `iso_us`: `shared.protocol.iso` of a naive (stored) time, once per update of every answer; the
  least of 30 passes over 2,000 times, CPU µs per call.
- `sync_counter_cpu_us` / `sync_counter_wall_us`: `hub.metrics.record_sync`, the counter every
  sync answer commits, on a SQLite hub as deployed (WAL, synchronous=FULL); the median of 5
  rounds of 100 calls, CPU and wall µs per call.
- `audit_flag_us`: `hub.audit.record_many` of 1,000 duplicate flags (what a batch of returning
  villagers appends, 两头受理), CPU µs per entry, the least of 30 rounds; `audit_flag_20k_us` the
  same onto a chain of 20,000 entries (the e2e bench's hub holds 5,000–10,000 by its returning batches).
- `duplicate_note_us`: the note a returning villager's status carries (两头受理), as the tree's
  `hub/ingest._captured` writes it, CPU µs per note, the least of 30 rounds of 1,000.
- `answer_zstd_ms`: `hub.api._signed` of a signed answer of 1,000 updates (~340 kB) for a node
  that reads zstd, CPU ms, the least of 50.
- `node_row_us`: `hub.db.one_by` of the node row (read twice per batch), CPU µs, the least of 30.
- `batch_rows_ms`: `hub.ingest._insert_values` of the rows a batch of 1,000 returning villagers
  writes (cases, hub log, node events, the batch), as the e2e bench's second batch makes them
  (`bench.e2e_hub_batches.batches`), on top of its first; CPU ms, the least of 20 rounds, each in a
  transaction rolled back.

Run alternating with `--tree` of the checkout before (docs/performance.md, "Hub ingest, fourth
pass").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)


def least(passes: int, step: object, per: int) -> float:
    """The least CPU µs per item of `passes` runs of step() over `per` items."""
    best = float("inf")
    for _ in range(passes):
        cpu0 = time.process_time()
        step()  # type: ignore[operator]
        best = min(best, time.process_time() - cpu0)
    return round(best / per * 1e6, 3)


def main() -> None:
    """Print the steps' figures as JSON."""
    ap = argparse.ArgumentParser()
    from bench.tree import parse_args

    parse_args(ap)
    from hub import create_app
    from hub.db import database
    from hub.ingest import no_cycle_collection
    from hub.metrics import record_sync
    from hub.schema import migrate
    from shared import protocol

    out: dict[str, float] = {}
    base = datetime(2026, 12, 1, 2, 0, 0)
    times = [base + timedelta(microseconds=7919 * i) for i in range(2000)]
    with no_cycle_collection():
        out["iso_us"] = least(30, lambda: [protocol.iso(t) for t in times], len(times))

    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": tempfile.mkdtemp(),
            "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/hub.sqlite3",
            "SECRET_KEY": "x",
        }
    )
    with app.app_context(), database.connection_context():
        migrate()
        cpu, wall = [], []
        for _ in range(5):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(100):
                record_sync(200, 0.01 * (i % 7))
            cpu.append((time.process_time() - cpu0) / 100 * 1e6)
            wall.append((time.perf_counter() - wall0) / 100 * 1e6)
        out["sync_counter_cpu_us"] = round(statistics.median(cpu))
        out["sync_counter_wall_us"] = round(statistics.median(wall))
        out["audit_flag_us"] = audit_flags(database)
        out["audit_flag_20k_us"] = audit_flags(database, held=20)
    out["duplicate_note_us"] = duplicate_note()
    out["answer_zstd_ms"] = answer_packing(app)
    out["node_row_us"] = node_row()
    out["batch_rows_ms"] = batch_rows()
    print(json.dumps(out))


def batch_rows() -> float:
    """CPU ms of hub.ingest._insert_values for a returning batch's rows (see the module's docstring)."""
    from bench.e2e_hub_batches import batches
    from bench.profile_ingest import enrolled_node
    from hub import ingest
    from hub.db import database

    tmp = tempfile.mkdtemp()
    path = Path(tmp) / "hub.sqlite3"
    app, key, enrolled = enrolled_node(f"sqlite:///{path}", tmp, "测速村")
    (_, first), (kind, second) = batches(enrolled["prefix"], enrolled["node_id"], key, 2, 1000)
    assert kind == "returning"
    write, calls = ingest._insert_values, []

    def recorded(model: object, names: object, values: list) -> None:
        calls.append((model, names, list(values)))  # BatchWriter.flush clears its lists after
        write(model, names, values)

    client = app.test_client()
    headers = {"Content-Encoding": "zstd", "Accept-Encoding": "zstd"}
    for raw in (first, second):
        if raw is second:  # the database as the first batch left it, kept to write the second's rows on
            database.close()
            shutil.copyfile(path, f"{path}.first")
            ingest._insert_values = recorded
        resp = client.post("/api/v1/sync", data=raw, content_type="application/json", headers=headers)
        assert resp.status_code == 200, resp.data[:300]
    ingest._insert_values = write
    database.close()
    assert not Path(f"{path}-wal").exists()  # closed, all of it in the file: nothing left to apply to the copy
    os.replace(f"{path}.first", path)

    def step() -> None:
        with database.atomic() as txn:
            for call in calls:
                write(*call)
            txn.rollback()

    with database.connection_context():
        return round(least(20, step, 1) / 1000, 2)  # least() gives µs per item: here the batch


def node_row() -> float:
    """CPU µs of hub.db.one_by(Node.node_id, …), the node row every sync reads (twice for a batch),
    on an enrolled SQLite hub, least of 30 rounds of 200."""
    from bench.profile_ingest import enrolled_node
    from hub.db import database, one_by
    from hub.models import Node

    tmp = tempfile.mkdtemp()
    _, _, enrolled = enrolled_node(f"sqlite:///{tmp}/hub.sqlite3", tmp, "测速村")
    with database.connection_context():
        return least(30, lambda: [one_by(Node.node_id, enrolled["node_id"]) for _ in range(200)], 200)


def audit_flags(database: object, held: int = 0) -> float:
    """CPU µs per entry of hub.audit.record_many over 1,000 duplicate flags (a returning batch's), least of 30.

    `held` batches of them committed first. Each round in a transaction rolled back, so every
    round appends to the same chain head.
    """
    from hub import audit

    flags = [
        ("node-bench", "case.duplicate_flagged", f"22K{i:07d}", {"earlier": f"22E{i:07d}", "item": "JF-01"})
        for i in range(1000)
    ]
    for _ in range(held):
        with database.atomic():  # type: ignore[attr-defined]
            audit.record_many(flags)

    def step() -> None:
        with database.atomic() as txn:  # type: ignore[attr-defined]
            audit.record_many(flags)
            txn.rollback()

    return least(30, step, len(flags))


def duplicate_note() -> float:
    """CPU µs of the note hub/ingest._captured writes on a returning villager's capture, least of 30 × 1,000."""
    import random

    from hub import ingest
    from shared.receipt_codes import new_code

    rng = random.Random(4)
    codes = [new_code("22", rng) for _ in range(1000)]
    # Since the sentence alone exists (duplicate_sentence) the hub says it; before, a FieldError's message.
    sentence = getattr(ingest, "duplicate_sentence", None) or (
        lambda code, name: ingest.duplicate_application(code, name).message  # type: ignore[attr-defined]
    )
    return least(30, lambda: [sentence(c, "最低生活保障") + "（中心已接收，由窗口核实）" for c in codes], len(codes))


def answer_packing(app: object) -> float:
    """CPU ms of hub.api._signed (the answer's zstd at the LAN level) on the signed answer to a batch of
    1,000 captures of the e2e bench (1,000 `received` updates, ~340 kB), least of 50."""
    from flask import Flask

    from hub import api
    from shared import protocol, signing

    update = {"type": "case.status", "state": "received", "action": "received", "window": "民政窗口"}
    updates = [
        {
            **update,
            "cseq": i,
            "request_id": f"22Q5WX{i:010d}",
            "at": f"2026-12-01T03:{i % 60:02d}:00.000000Z",
            "receipt_code": f"22K{i:07d}",
            "due_on": "2026-12-15",
            "item_code": "JF-01",
            "clock": "running",
            "note": None,
            "assignee": None,
            "materials_missing": [],
            "label": "已接收，待窗口受理",
        }
        for i in range(1, 1001)
    ]
    raw = protocol.seal(signing.generate_key(), {"updates": updates, "node_id": "bench"})
    assert isinstance(app, Flask)
    with app.test_request_context("/api/v1/sync", method="POST", headers={"Accept-Encoding": "zstd"}):
        return round(least(50, lambda: api._signed(200, raw), 1) / 1000, 2)


if __name__ == "__main__":
    main()
