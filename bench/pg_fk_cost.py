"""What each foreign key of a batch's rows costs PostgreSQL: one batch's rows replayed, what-ifs rolled back.

    .venv/bin/python -m bench.pg_fk_cost [--reps 8]           (this tree)
    cd OLD && PYTHONPATH=OLD /path/.venv/bin/python -m bench.pg_fk_cost   (another checkout, if it has this file;
                                                         else copy this file there)

One node's batch of 200 captures goes through the hub (Flask test client) once, recording the rows
`shared.bulk_rows.insert_rows` is given; then on one warm connection those rows are written again
by COPY, each time inside a transaction that is rolled back: as they are, and with each foreign key
of those tables dropped (what-if), all of them dropped, and (`--sequences`) the id sequences cached.
Each variant's rows are written once untimed under a savepoint rolled back (the DDL's invalidated
caches rebuilt), then timed: the backend's CPU (its /proc/PID/schedstat) per table, medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path[0] = os.getcwd()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--sequences", action="store_true", help="also: every sequence CACHE 1000")
    args = ap.parse_args()
    import psycopg

    from bench import pg_ingest
    from bench.harness import pg_database
    from hub import ingest
    from shared import bulk_rows

    with pg_database() as url:
        if not url:
            raise SystemExit("no PostgreSQL server")
        calls: list[tuple[Any, ...]] = []
        write = ingest.insert_rows

        def recorded(
            cursor: Any, model: Any, names: Any, values: Any, mark: str = "?", encoder_for: Any = None
        ) -> None:
            calls.append((model, list(names), list(values), mark, encoder_for))
            write(cursor, model, names, values, mark, encoder_for)

        ingest.insert_rows = recorded  # type: ignore[assignment]
        pg_ingest.run(url, 200, 200)
        calls = [c for c in calls if len(c[2]) > 1]  # the batch's many-row tables
        tables = [c[0]._meta.table_name for c in calls]
        conn = psycopg.connect(url)
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
        conn.commit()
        keys = conn.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f'"
            " AND conrelid::regclass::text IN (SELECT quote_ident(t) FROM unnest(%s::text[]) AS t) ORDER BY 1, 2",
            (tables,),
        ).fetchall()
        sequences = [s for (s,) in conn.execute("SELECT relname FROM pg_class WHERE relkind = 'S'").fetchall()]
        conn.rollback()
        variants: dict[str, list[str]] = {"as they are": []}
        for table, name in keys:
            variants[f"without {name}"] = [f'ALTER TABLE {table} DROP CONSTRAINT "{name}"']
        if keys:
            variants["without all of them"] = [f'ALTER TABLE {t} DROP CONSTRAINT "{n}"' for t, n in keys]
        if args.sequences:
            variants["sequences CACHE 1000"] = [f'ALTER SEQUENCE "{s}" CACHE 1000' for s in sequences]
        pid = conn.info.backend_pid

        def cpu_ms() -> float:
            return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6

        spent: dict[str, dict[str, list[float]]] = {v: {t: [] for t in ["all", *tables]} for v in variants}
        for _ in range(args.reps):
            for variant, ddl in variants.items():
                with conn.cursor() as cur:
                    for statement in ddl:
                        cur.execute(statement)
                    cur.execute("SAVEPOINT warm")
                    for call in calls:
                        bulk_rows.insert_rows(cur, *call)
                    cur.execute("ROLLBACK TO SAVEPOINT warm")
                    total = cpu_ms()
                    for call in calls:
                        t0 = cpu_ms()
                        bulk_rows.insert_rows(cur, *call)
                        spent[variant][call[0]._meta.table_name].append(cpu_ms() - t0)
                    spent[variant]["all"].append(cpu_ms() - total)
                conn.rollback()
        conn.close()
    out = {
        "rows": {t: len(c[2]) for t, c in zip(tables, calls)},
        "backend_cpu_ms": {v: {t: round(statistics.median(x), 2) for t, x in per.items()} for v, per in spent.items()},
        "load_avg": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
