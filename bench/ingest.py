"""Hub ingest throughput through the real sync endpoint of a real hub process, SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import RUNS, WireNode, hub_codes, hub_process, log, median, pg_database, scaled, sqlite_url

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


def throughput(base_url: str, db_url: str, size: int, events: int, tag: str) -> list[float]:
    """events/s for RUNS fresh nodes sending `events` captures in batches of `size`."""
    codes = hub_codes(db_url, [f"{tag}{size}村{i}" for i in range(RUNS)])
    rates = []
    for i, code in enumerate(codes):
        node = WireNode(base_url, code, seed=size * 100 + i)
        envelopes = node.batches(events, size)
        secs, accepted = timed_ingest(node, envelopes)
        if accepted != events:
            raise RuntimeError(f"only {accepted} of {events} accepted")
        rates.append(events / secs)
    return rates


def bench_database(kind: str, db_url: str | None, tmp: Path) -> dict[str, Any]:
    """Batches of 50/200/1000 on one hub database."""
    out: dict[str, Any] = {}
    with hub_process(tmp, db_url) as hub:
        url = db_url or sqlite_url(hub.data_dir)
        for size in BATCH_SIZES:
            events = max(scaled(2000), 3 * size)
            rates = throughput(hub.url, url, size, events, f"{kind}批")
            out[f"batch_{size}"] = {"events_per_s": round(median(rates)), "runs": [round(r) for r in rates],
                                    "events_per_run": events}
            log(f"ingest {kind} batch {size}: {median(rates):.0f} events/s")
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
            rates = throughput(hub.url, url, 200, scaled(1000), f"{kind}增{level}")
            out[str(level)] = round(median(rates))
            log(f"ingest {kind} at {level} requests held: {median(rates):.0f} events/s")
    return out


def run() -> dict[str, Any]:
    """All ingest figures."""
    result: dict[str, Any] = {}
    levels = tuple(lv for lv in GROWTH_LEVELS if lv <= scaled(100_000))
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        result["sqlite"] = bench_database("sqlite", None, Path(tmp) / "s")
        result["growth_sqlite"] = bench_growth("sqlite", None, Path(tmp) / "g", levels)
        with pg_database() as pg:
            if pg:
                result["postgresql"] = bench_database("pg", pg, Path(tmp) / "p")
        with pg_database() as pg:
            if pg:
                result["growth_postgresql"] = bench_growth("pg", pg, Path(tmp) / "gp", levels)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=1))
