"""Operations figures for a township-sized hub: backup, restore, /metrics, and the per-sync metrics write.

    .venv/bin/python bench/hub_ops.py            # SQLite and (if reachable) PostgreSQL
    BENCH_SCALE=2 .venv/bin/python bench/hub_ops.py

A hub is filled directly with a year of a busy township (11,211 cases, as the seed centre
reported, times BENCH_SCALE) with one node event and one hub event per case, then each
operation is timed BENCH_RUNS times.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.harness import RUNS, load_average, log, median, pg_database, scaled  # noqa: E402

CASES = 11_211


def fill(url: str, data_dir: Path, n: int) -> None:
    """A migrated hub database holding n cases across 20 villages."""
    from hub import create_app
    from hub.clock import now
    from hub.db import database
    from hub.models import Case, HubEvent, Node, NodeEvent, Village
    from hub.schema import migrate
    from shared import protocol

    create_app({"TESTING": True, "DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "b"})
    with database.connection_context():
        migrate()
        t = now()
        nodes = []
        for v in range(20):
            village = Village.create(name=f"村{v:02d}", prefix=f"{v + 10}", created_at=t)
            nodes.append(
                Node.create(
                    node_id=f"node{v:02d}",
                    village=village,
                    pubkey="A" * 44,
                    fingerprint="F",
                    enrolled_at=t,
                    last_hash=protocol.GENESIS_HASH,
                    last_sync_at=t,
                )
            )
        for start in range(0, n, 1000):
            cases, events, hub_events = [], [], []
            for i in range(start, min(n, start + 1000)):
                node = nodes[i % 20]
                rid = f"r{i:08d}"
                body = {
                    "seq": i // 20 + 1,
                    "id": f"e{i:08d}",
                    "type": "request.captured",
                    "request_id": rid,
                    "data": {"item_code": "DB-01", "applicant": {"name": "张三"}},
                }
                cases.append(
                    {
                        "request_id": rid,
                        "receipt_code": f"{i % 20 + 10}{i:08d}"[:12],
                        "node": node,
                        "village": node.village_id,
                        "item_code": "DB-01",
                        "window": "MZ",
                        "mode": "processed",
                        "state": "received" if i % 7 else "approved",
                        "applicant_name": "张三",
                        "id_number": "430102199001011234",
                        "phone": "13800138000",
                        "captured": body["data"],
                        "received_at": t,
                        "received_on": t.date(),
                        "deadline": (t - timedelta(days=i % 40 - 20)).date(),
                        "updated_at": t,
                    }
                )
                events.append(
                    {
                        "node": node,
                        "seq": i // 20 + 1,
                        "event_id": body["id"],
                        "type": body["type"],
                        "request_id": rid,
                        "body": body,
                        "result": "ok",
                    }
                )
                hub_events.append(
                    {
                        "node": node,
                        "cseq": i // 20 + 1,
                        "request_id": rid,
                        "type": "case.status",
                        "body": {"state": "received"},
                        "actor": "system",
                        "at": t,
                    }
                )
            with database.atomic():
                Case.insert_many(cases).execute()
                NodeEvent.insert_many(events).execute()
                HubEvent.insert_many(hub_events).execute()


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_one(kind: str, url: str, fresh_url: str, tmp: Path, n: int) -> dict[str, Any]:
    """Fill a hub, then time backup, restore into a fresh instance, /metrics and the sync counter."""
    from hub import create_app
    from hub.backup import backup, restore
    from hub.db import database
    from hub.metrics import record_sync, render

    data_dir = tmp / f"{kind}-hub"
    fill(url, data_dir, n)
    backups = [timed(lambda: backup(data_dir, url, keep=2)) for _ in range(RUNS)]
    newest = sorted((data_dir / "backups").glob("hub-*"))[-1]
    fresh_dir = tmp / f"{kind}-fresh"
    fresh_dir.mkdir()
    restored = timed(lambda: restore(fresh_dir, fresh_url, newest))
    create_app({"TESTING": True, "DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "b"})
    with database.connection_context():
        renders = [timed(render) for _ in range(RUNS)]
        writes = [timed(lambda: record_sync(200, 0.03)) for _ in range(200)]
    return {
        "cases": n,
        "backup_bytes": newest.stat().st_size,
        "backup_s": round(median(backups), 3),
        "restore_s": round(restored, 3),
        "metrics_render_ms": round(median(renders) * 1000, 1),
        "metrics_write_ms": round(median(writes) * 1000, 2),
    }


def main() -> None:
    n = scaled(CASES)
    out: dict[str, Any] = {"load_average": load_average()}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        log(f"SQLite hub with {n} cases")
        out["sqlite"] = run_one(
            "sqlite", f"sqlite:///{tmp / 'hub.sqlite3'}", f"sqlite:///{tmp / 'fresh.sqlite3'}", tmp, n
        )
        with pg_database() as url, pg_database() as fresh:
            if url and fresh:
                log(f"PostgreSQL hub with {n} cases")
                out["postgresql"] = run_one("postgresql", url, fresh, tmp, n)
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
