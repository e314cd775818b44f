"""The public status page at the hub (and /healthz): bytes per answer, requests/s and p99 under load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .harness import ROOT, RUNS, WireNode, hub_codes, hub_process, load_average, log, median, sqlite_url

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))


def load(url: str) -> dict[str, Any]:
    """Median over RUNS of bench.loadgen against url, from a second process."""
    runs = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", url, "--connections", str(CONNECTIONS), "--seconds", str(SECONDS)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2]
    best["p99_ms"] = median([r["p99_ms"] for r in runs])
    best["errors"] = sum(r["errors"] for r in runs)
    return best


def a_case(db_url: str) -> tuple[str, str]:
    """The receipt code and phone tail of some case at the hub."""
    from hub.db import bind, database, open_database
    from hub.models import Case

    db = open_database(db_url)
    bind(db)
    with database.connection_context():
        case = Case.select().first()
        out = (case.receipt_code, case.phone[-4:])
    db.close()
    return out


def run() -> dict[str, Any]:
    """Form page, a real lookup and /healthz at the hub."""
    out: dict[str, Any] = {"connections": CONNECTIONS, "seconds": SECONDS, "load_avg": load_average()}
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        os.environ["DAIBAN_HUB_STATUS_LOOKUP_LIMIT"] = "1000000000"
        try:
            with hub_process(Path(tmp)) as hub:
                url = sqlite_url(hub.data_dir)
                node = WireNode(hub.url, hub_codes(url, ["查询村"])[0])
                for raw in node.batches(200, 200):
                    node.post(raw)
                code, tail = a_case(url)
                for name, path in (
                    ("status_form", "/status"),
                    ("status_lookup", f"/status?code={code}&tail={tail}"),
                    ("healthz", "/healthz"),
                ):
                    out[name] = load(hub.url + path)
                    log(
                        f"hub {path.split('?')[0]} ({name}): {out[name]['response_bytes']} B, "
                        f"{out[name]['requests_per_s']} req/s, p99 {out[name]['p99_ms']} ms"
                    )
        finally:
            os.environ.pop("DAIBAN_HUB_STATUS_LOOKUP_LIMIT", None)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=1))
