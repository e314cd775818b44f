"""Supervision at the seed centre's scale: a year of cases (11,211) on SQLite.

Times the deadline sweep, the dashboard, the xlsx export and verify-audit over a long chain.
Run: `python -m bench.supervision` (BENCH_SCALE, BENCH_RUNS as for the other benchmarks).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from .harness import RUNS, load_average, log, median, scaled

CASES = scaled(11_211)
OPEN = scaled(55)
AUDIT = scaled(20_000)
ITEMS = [
    ("FP-01", "W10", "immediate", 0),
    ("FP-02", "W10", "processed", 20),
    ("DB-01", "W05", "processed", 30),
    ("DB-03", "W05", "processed", 10),
    ("JF-01", "W09", "processed", 20),
    ("JF-03", "W09", "processed", 10),
]


def _seed(rng: random.Random) -> None:
    from hub import audit
    from hub.deadlines import calendar
    from hub.enrolment import get_or_create_village
    from hub.db import database
    from hub.models import Case, Node
    from shared import protocol

    cal = calendar()
    village = get_or_create_village("桃源村")
    node = Node.create(
        node_id=protocol.new_id(),
        village=village,
        pubkey="x",
        fingerprint="x",
        enrolled_at=datetime(2025, 1, 1),
        last_hash=protocol.GENESIS_HASH,
    )
    rows = []
    for i in range(CASES):
        code, window, mode, limit = ITEMS[0] if i % 5 else rng.choice(ITEMS[1:])  # ~80 % 即办件, as reported
        received = date(2025, 1, 2) + timedelta(days=rng.randint(0, 350))
        due = cal.add_workdays(received, limit)
        is_open = i < OPEN
        closed = None if is_open else cal.add_workdays(received, rng.randint(0, limit + 2) if limit else 0)
        rows.append(
            {
                "request_id": f"r{i:06d}",
                "receipt_code": f"22{i:07d}",
                "node": node.node_id,
                "village": village.id,
                "item_code": code,
                "window": window,
                "mode": mode,
                "state": "accepted" if is_open else "approved",
                "applicant_name": "张三",
                "id_number": "x",
                "phone": "13800138000",
                "captured": "{}",
                "materials_brought": "[]",
                "materials_missing": "[]",
                "received_at": datetime.combine(received, datetime.min.time()),
                "received_on": received,
                "deadline": due,
                "paused_days": 0,
                "urgency": "green",
                "closed_at": datetime.combine(closed, datetime.min.time()) if closed else None,
                "satisfaction": rng.choice(["满意", "满意", "基本满意", None]),
                "updated_at": datetime(2025, 12, 31),
            }
        )
    for start in range(0, len(rows), 500):
        Case.insert_many(rows[start : start + 500]).execute()
    with database.atomic():  # one commit: seeding is not what is measured
        for i in range(AUDIT):
            audit.record("bench", "sync.batch", "桃源村", {"first_seq": i, "last_seq": i})


def _timed(fn: Callable[[], Any]) -> float:
    runs = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return round(median(runs), 3)


def run() -> dict[str, Any]:
    """Seed a hub database and time each supervision operation (median of BENCH_RUNS)."""
    from hub import audit, create_app
    from hub.db import database
    from hub.schema import migrate
    from hub.staff import create_user
    from hub.sweep import run_sweep

    with tempfile.TemporaryDirectory(prefix="bench-supervision-") as tmp:
        app = create_app(
            {"TESTING": True, "DATA_DIR": str(Path(tmp) / "hub"), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}
        )
        with database.connection_context():
            migrate()
            log(f"seeding {CASES} cases and {AUDIT} audit entries")
            t = time.perf_counter()
            _seed(random.Random(7))
            seed_s = time.perf_counter() - t
            create_user("chen", "陈督查", "bench-pass-1", "supervisor")
        client = app.test_client()
        client.post("/login", data={"username": "chen", "password": "bench-pass-1"})

        def get(url: str) -> None:
            assert client.get(url).status_code == 200

        with database.connection_context():
            out = {
                "cases": CASES,
                "open_cases": OPEN,
                "audit_entries": AUDIT,
                "seed_s": round(seed_s, 1),
                "sweep_s": _timed(lambda: run_sweep(date(2025, 12, 31))),
                "verify_audit_s": _timed(audit.verify),
            }
        out["dashboard_s"] = _timed(lambda: get("/supervision/"))
        out["dashboard_by_village_s"] = _timed(lambda: get("/supervision/?by=village"))
        out["export_xlsx_s"] = _timed(lambda: get("/supervision/export.xlsx"))
        out["load_avg"] = load_average()
    return out


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
