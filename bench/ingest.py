"""Hub ingest throughput through the real sync endpoint of a real hub process, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import (
    RUNS,
    WireNode,
    cpu_seconds,
    hub_codes,
    hub_process,
    load_average,
    log,
    median,
    pg_database,
    scaled,
    sqlite_url,
)

BATCH_SIZES = (50, 200, 1000)
GROWTH_LEVELS = (1_000, 10_000, 100_000)


def timed_ingest(node: WireNode, envelopes: list[bytes]) -> tuple[float, int]:
    """Post the envelopes in order; (seconds, events accepted)."""
    accepted = 0
    t0 = time.perf_counter()
    for raw in envelopes:
        status, body = node.post(raw)
        if status != 200:
            raise RuntimeError(f"hub refused a batch: {status} {body.get('error')}")
        accepted += body["ack"]["accepted"]
    return time.perf_counter() - t0, accepted


def throughput(
    hub: Any, db_url: str, size: int, events: int, tag: str, cpu_rates: list[float] | None = None
) -> list[float]:
    """events/s for RUNS fresh nodes sending `events` captures in batches of `size`.

    cpu_rates, when given, collects events per CPU second of the hub process: what the hub
    would do with a core to itself, whatever else this shared machine is running.
    """
    codes = hub_codes(db_url, [f"{tag}{size}村{i}" for i in range(RUNS)])
    rates = []
    for i, code in enumerate(codes):
        node = WireNode(hub.url, code, seed=size * 100 + i)
        envelopes = node.batches(events, size)
        cpu0 = cpu_seconds(hub.proc.pid)
        secs, accepted = timed_ingest(node, envelopes)
        cpu = cpu_seconds(hub.proc.pid) - cpu0
        if accepted != events:
            raise RuntimeError(f"only {accepted} of {events} accepted")
        rates.append(events / secs)
        if cpu_rates is not None and cpu > 0:
            cpu_rates.append(events / cpu)
    return rates


def bench_database(kind: str, db_url: str | None, tmp: Path) -> dict[str, Any]:
    """Batches of 50/200/1000 on one hub database."""
    out: dict[str, Any] = {}
    with hub_process(tmp, db_url) as hub:
        url = db_url or sqlite_url(hub.data_dir)
        for size in BATCH_SIZES:
            events = max(scaled(1000), 2 * size)
            cpu_rates: list[float] = []
            load = load_average()
            rates = throughput(hub, url, size, events, f"{kind}批", cpu_rates)
            out[f"batch{size}"] = {
                "events_per_s": round(median(rates)),
                "runs": [round(r) for r in rates],
                "events_per_cpu_s": round(median(cpu_rates)),
                "events_per_run": events,
                "load_avg": load,
            }
            log(
                f"ingest {kind} batch {size}: {median(rates):.0f} events/s, "
                f"{median(cpu_rates):.0f} per hub CPU second, load {load}"
            )
    return out


def add_staff(db_url: str, n: int) -> None:
    """n window staff, together covering every window twice over (routing then picks per case)."""
    from hub.db import bind, database, open_database
    from hub.staff import create_user
    from shared.catalogue import Catalogue

    windows = [w["code"] for w in Catalogue.default().windows()]
    db = open_database(db_url)
    bind(db)
    with database.connection_context():
        for i in range(n):
            create_user(
                f"staff{i}",
                f"工作人员{i}",
                "bench-pass-9",
                windows=[w for j, w in enumerate(windows) if j % n in (i, (i + 1) % n)],
            )
    db.close()


def bench_growth(kind: str, db_url: str | None, tmp: Path, levels: tuple[int, ...], staff: int = 0) -> dict[str, Any]:
    """Ingest rate (batches of 200) when the hub already holds 1k, 10k, 100k requests."""
    out: dict[str, Any] = {}
    with hub_process(tmp, db_url) as hub:
        url = db_url or sqlite_url(hub.data_dir)
        if staff:
            add_staff(url, staff)
        filler = WireNode(hub.url, hub_codes(url, ["填充村"])[0], seed=7)
        held = 0
        for level in levels:
            while held < level:
                n = min(5000, level - held)
                timed_ingest(filler, filler.batches(n, 1000))
                held += n
            rates = throughput(hub, url, 200, scaled(1000), f"{kind}增{level}")
            out[str(level)] = round(median(rates))
            log(f"ingest {kind} at {level} requests held: {median(rates):.0f} events/s")
    return out


def run() -> dict[str, Any]:
    """All ingest figures."""
    result: dict[str, Any] = {}
    # Filling a hub with 100k requests through its sync endpoint takes minutes on this machine, so
    # `make bench` stops at 10k unless BENCH_GROWTH_MAX=100000 asks for the last step.
    top = int(os.environ.get("BENCH_GROWTH_MAX", "10000"))
    levels = tuple(lv for lv in GROWTH_LEVELS if lv <= min(top, scaled(100_000)))
    pg_levels = levels
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        result["sqlite"] = bench_database("sqlite", None, Path(tmp) / "s")
        result["growth_sqlite"] = bench_growth("sqlite", None, Path(tmp) / "g", levels)
        if os.environ.get("BENCH_STAFFED") == "1":
            # With staff on every window the routing rule runs for each new case (slow: opt-in).
            result["growth_sqlite_staffed"] = bench_growth("sqlite+staff", None, Path(tmp) / "gs", levels, staff=10)
        with pg_database() as pg:
            if pg:
                result["postgresql"] = bench_database("pg", pg, Path(tmp) / "p")
        with pg_database() as pg:
            if pg:
                result["growth_postgresql"] = bench_growth("pg", pg, Path(tmp) / "gp", pg_levels)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=1))
