"""A flame graph (SVG) of the hub process while it ingests batches of captures (200 unless --batch), sampled by py-spy.

    .venv/bin/python -m bench.flame_ingest docs/flamegraphs/ingest-sqlite-after.svg [--db sqlite|postgresql]

The real path (bench.ingest): a `daiban hub run` process, fresh wire nodes posting signed, deflated
batches over HTTP. py-spy samples only the thread holding the GIL (`--gil`), so the graph shows
where the hub spends CPU, not where its idle server threads wait. Prints the run's events/s, events
per hub CPU second and the load average as JSON. Needs py-spy (`make setup` installs it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from .harness import WireNode, cpu_seconds, hub_codes, hub_process, load_average, log, median, pg_database, sqlite_url
from .ingest import timed_ingest

PY_SPY = Path(sys.executable).parent / "py-spy"


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None for the hub's own SQLite file, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield None
        return
    with pg_database() as url:
        if url is None:
            raise SystemExit("PostgreSQL is not available")
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("svg", type=Path)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--events", type=int, default=4000, help="captures per node (3 nodes)")
    parser.add_argument("--batch", type=int, default=200, help="captures per batch")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument(
        "--format", choices=("flamegraph", "raw"), default="flamegraph", help="raw: collapsed stacks, one per line"
    )
    args = parser.parse_args()
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-flame-") as tmp,
        database(args.db) as db_url,
        hub_process(Path(tmp), db_url) as hub,
    ):
        url = db_url or sqlite_url(hub.data_dir)
        # Enrolment (SPAKE2 in pure Python) and signing happen before sampling starts: only ingest is drawn.
        codes = hub_codes(url, [f"flame{args.db}村{i}" for i in range(3)])
        work = [
            (node, node.batches(args.events, args.batch))
            for node in (WireNode(hub.url, code, seed=900 + i) for i, code in enumerate(codes))
        ]
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--gil",
                "--nonblocking",
                "-r",
                str(args.rate),
                "-p",
                str(hub.proc.pid),
                "-o",
                str(args.svg),
                "-f",
                args.format,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        load = load_average()
        rates, cpu_rates = [], []
        try:
            for node, envelopes in work:
                cpu0 = cpu_seconds(hub.proc.pid)
                secs, accepted = timed_ingest(node, envelopes)
                if accepted != args.events:
                    raise SystemExit(f"only {accepted} of {args.events} accepted")
                rates.append(accepted / secs)
                cpu_rates.append(accepted / (cpu_seconds(hub.proc.pid) - cpu0))
        finally:
            spy.send_signal(2)  # SIGINT: py-spy writes the graph and stops
            _, err = spy.communicate(timeout=120)
        if spy.returncode != 0 or not args.svg.exists():
            raise SystemExit(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
    out = {
        "db": args.db,
        "events_per_s": round(median(rates)),
        "events_per_cpu_s": round(median(cpu_rates)),
        "runs": [round(r) for r in rates],
        "load_avg": load,
        "svg": str(args.svg),
    }
    log(f"flame graph {args.svg}: {out}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
