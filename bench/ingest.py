"""Hub ingest throughput through the real sync endpoint of a real hub process, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import (RUNS, WireNode, cpu_seconds, hub_codes, hub_process, load_average, log, median, pg_database,
                      scaled, sqlite_url)

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


def throughput(hub: Any, db_url: str, size: int, events: int, tag: str,
               cpu_rates: list[float] | None = None) -> list[float]:
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
            events = max(scaled(2000), 2 * size)
            cpu_rates: list[float] = []
            load = load_average()
            rates = throughput(hub, url, size, events, f"{kind}批", cpu_rates)
            out[f"batch_{size}"] = {"events_per_s": round(median(rates)), "runs": [round(r) for r in rates],
                                    "events_per_cpu_s": round(median(cpu_rates)), "events_per_run": events,
                                    "load_avg": load}
            log(f"ingest {kind} batch {size}: {median(rates):.0f} events/s, "
                f"{median(cpu_rates):.0f} per hub CPU second, load {load}")
    return out


def bench_growth(kind: str, db_url: str | None, tmp: Path, levels: tuple[int, ...]) -> dict[str, Any]:
    """Ingest rate (batches of 200) when the hub already holds 1k, 10k, 100k requests."""
    out: dict[str, Any] = {}
    with hub_process(tmp, db_url) as hub:
        url = db_url or sqlite_url(hub.data_dir)
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
    levels = tuple(lv for lv in GROWTH_LEVELS if lv <= scaled(100_000))
    # PostgreSQL growth stops at 10k unless asked: filling 100k more takes minutes here.
    pg_levels = tuple(lv for lv in levels if lv <= int(os.environ.get("BENCH_PG_GROWTH_MAX", "10000")))
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        result["sqlite"] = bench_database("sqlite", None, Path(tmp) / "s")
        result["growth_sqlite"] = bench_growth("sqlite", None, Path(tmp) / "g", levels)
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
