"""Hub ingest on PostgreSQL in one process: wall clock, hub CPU, PostgreSQL's CPU, and where the wall goes.

    python bench/pg_ingest.py [--size 200] [--events 4000] [--tree CHECKOUT]
    python bench/pg_ingest.py --rows [--reps 10]
    python bench/pg_ingest.py --keep-connection   (what-if: every request on one connection)
    python bench/pg_ingest.py --statements [--top 25]
    python bench/pg_ingest.py --round-trip
    python bench/pg_ingest.py --waits [--top 25]

One node posts `--events` captures in batches of `--size` through the Flask test client (no HTTP),
so the wall clock is the hub's Python plus its PostgreSQL round trips and commits. Printed per run:
events per wall second, per hub CPU second, per PostgreSQL CPU second (the server's backends, read
from /proc: the postmaster's reaped children plus the live ones; needs the server on this machine),
and the milliseconds per batch spent opening the request's connection and inside
`shared.bulk_rows.insert_rows`.

`--rows` times one batch's rows alone on one warm connection: the rows `shared.bulk_rows.insert_rows`
was given for the last batch of 200 are written again and rolled back, by COPY (its choice), by
COPY in binary format (`copy_binary`, what-if: psycopg's binary dumpers), by psycopg's
pipelined executemany (what it does inside a pipeline), and (what-if) by COPY with the
foreign keys of those tables dropped inside the transaction, alternating; medians of the
milliseconds per batch of wall clock, of the backend's CPU and of this process's CPU.

`--statements` lists where the server's time goes per batch, statement by statement: how many run,
their wall milliseconds as the hub waits for them, and the milliseconds of CPU the request's backend
spent on them (its /proc/PID/schedstat, in nanoseconds, read before and after each statement); and
how many round trips a batch's request makes (each time the hub waits for the server's answer).
pg_stat_statements needs the server restarted with it preloaded; this needs nothing of the server.

`--round-trip` times one `SELECT 1` round trip on a warm connection after 0 to 2,000 µs of computing
in between: what each of a batch's round trips costs on this machine beyond the backend's own work.

`--waits` splits a batch's wall clock: the hub process's CPU, the request backend's CPU, and every wait
of psycopg's for the server (`Connection.wait`: a statement, a pipeline's read or end, a COPY's start,
data and end) by its kind and by the hub function that waited (the first frame in hub/ or shared/
outside hub/db.py); what is left of the wall is the hub's thread waiting to be scheduled. Run with
`PGOPTIONS='-c synchronous_commit=off'` it shows (what-if only) what waiting for the WAL flush costs.

To compare with an older commit: `PYTHONPATH=/tmp/old python bench/pg_ingest.py --tree /tmp/old`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postgres_cpu() -> float | None:
    """CPU seconds used so far by the local PostgreSQL server's processes (None: not found here)."""
    master = None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if cmd.endswith(b"/postgres"):  # the postmaster; its backends rename themselves "postgres: …"
            master = int(entry.name)
            break
    if master is None:
        return None
    total = 0
    fields = _stat(master)
    total += sum(int(f) for f in fields[11:15])  # its own time and its reaped backends'
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except OSError:
            continue
        if fields[1] == str(master):
            total += int(fields[11]) + int(fields[12])
    return total / TICK


class Timer:
    """Wall seconds spent inside a wrapped function."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


def run(url: str, size: int, total: int, keep: bool = False) -> dict[str, Any]:
    """One fresh node's captures, batch by batch; the figures of the run.

    keep: what-if only, not how the hub runs: every request reuses one connection (its WAL-timeline
    query still runs per request), to show what the per-request connection costs in all.
    """
    from bench.profile_ingest import enrolled_hub
    from hub import ingest
    from hub.db import HubPostgresDatabase, database

    app, envelopes = enrolled_hub(url, size, total)
    client = app.test_client()
    connect, inserts = Timer(), Timer()
    HubPostgresDatabase._connect = connect.wrap(HubPostgresDatabase._connect)
    backend = [0.0]
    close = HubPostgresDatabase._close

    def closing(self: Any, conn: Any) -> None:
        # The request's backend process is this connection's alone: its CPU, connection start included.
        try:
            fields = _stat(conn.info.backend_pid)
            backend[0] += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
        close(self, conn)

    HubPostgresDatabase._close = closing
    kept: list[Any] = []
    if keep:
        fresh = HubPostgresDatabase._connect

        def reuse(self: Any) -> Any:
            if not kept or kept[0].closed:
                kept[:] = [fresh(self)]
            return kept[0]

        HubPostgresDatabase._connect = reuse
        HubPostgresDatabase._close = lambda self, conn: None
    ingest.insert_rows = inserts.wrap(ingest.insert_rows)
    pg0, cpu0, t0 = postgres_cpu(), time.process_time(), time.perf_counter()
    for raw in envelopes:
        resp = client.post(
            "/api/v1/sync", data=raw, content_type="application/json", headers={"Content-Encoding": "deflate"}
        )
        assert resp.status_code == 200, resp.data[:300]
    wall, cpu, pg1 = time.perf_counter() - t0, time.process_time() - cpu0, postgres_cpu()
    if not database.is_closed():
        database.close()
    for conn in kept:
        closing(database, conn)
    batches = len(envelopes)
    return {
        "events_per_s": round(total / wall),
        "events_per_hub_cpu_s": round(total / cpu),
        "events_per_pg_cpu_s": round(total / (pg1 - pg0)) if pg0 is not None and pg1 and pg1 > pg0 else None,
        "backend_cpu_ms_per_batch": round(1000 * backend[0] / batches, 1),
        "connect_ms_per_batch": round(1000 * connect.seconds / batches, 2),
        "insert_rows_ms_per_batch": round(1000 * inserts.seconds / batches, 2),
        "ms_per_batch": round(1000 * wall / batches, 1),
        "load_avg": round(os.getloadavg()[0], 2),
    }


def rows(url: str, reps: int) -> dict[str, Any]:
    """The last batch's insert_rows calls replayed by COPY, by executemany and by COPY without foreign keys."""
    import statistics

    import psycopg

    from hub import ingest
    from shared import bulk_rows

    calls: list[tuple[Any, ...]] = []
    write = ingest.insert_rows

    def recorded(cursor: Any, model: Any, names: Any, values: Any, mark: str = "?", encoder_for: Any = None) -> None:
        calls.append((model, list(names), list(values), mark, encoder_for))
        write(cursor, model, names, values, mark, encoder_for)

    ingest.insert_rows = recorded  # type: ignore[assignment]
    run(url, 200, 200)
    conn = psycopg.connect(url)
    conn.execute("TRUNCATE " + ", ".join(f'"{c[0]._meta.table_name}"' for c in calls) + " CASCADE")
    conn.commit()
    pid = conn.info.backend_pid
    tables = tuple(c[0]._meta.table_name for c in calls)
    foreign_keys = conn.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text"
        " IN (SELECT quote_ident(t) FROM unnest(%s::text[]) AS t)",
        (list(tables),),
    ).fetchall()
    conn.rollback()

    def backend_cpu() -> float:
        # Nanoseconds on the CPU (schedstat), finer than /proc/PID/stat's ticks.
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9

    figures: dict[str, list[list[float]]] = {
        "copy": [[], [], []],
        "copy_binary": [[], [], []],
        "executemany": [[], [], []],
        "copy_without_foreign_keys": [[], [], []],
    }
    binary = _binary_copier(conn, calls)
    for _ in range(reps):
        for how, seen in figures.items():
            spent = [0.0, 0.0, 0.0]
            for _ in range(5):
                with conn.cursor() as cur:
                    if how == "copy_without_foreign_keys":  # what-if only: dropped, then rolled back
                        for table, name in foreign_keys:
                            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                    b0, c0, t0 = backend_cpu(), time.process_time(), time.perf_counter()
                    if how == "executemany":
                        with conn.pipeline():
                            for call in calls:
                                bulk_rows.insert_rows(cur, *call)
                    elif how == "copy_binary":
                        for call in calls:
                            binary(cur, *call)
                    else:
                        for call in calls:
                            bulk_rows.insert_rows(cur, *call)
                    for i, value in enumerate((time.perf_counter() - t0, backend_cpu() - b0, time.process_time() - c0)):
                        spent[i] += value
                conn.rollback()
            for i, value in enumerate(spent):
                seen[i].append(1000 * value / 5)
    conn.close()
    names = ("wall_ms", "backend_cpu_ms", "hub_cpu_ms")
    out: dict[str, Any] = {"tables": [f"{c[0].__name__} {len(c[2])}" for c in calls]}
    for how, seen in figures.items():
        out[how] = {n: round(statistics.median(v), 1) for n, v in zip(names, seen)}
    out["load_avg"] = round(os.getloadavg()[0], 2)
    return out


# The PostgreSQL type psycopg writes in binary for each text, integer, date and time column type.
_BINARY_TYPES = {
    "character varying": "text",
    "text": "text",
    "integer": "int4",
    "bigint": "int8",
    "boolean": "bool",
    "date": "date",
    "timestamp without time zone": "timestamp",
}


def _binary_copier(conn: Any, calls: list[tuple[Any, ...]]) -> Any:
    """What-if (session 15): insert_rows' COPY in binary format (psycopg's binary dumpers, each column
    typed as the table declares it); rows it would not COPY go as insert_rows sends them."""
    from shared import bulk_rows

    declared: dict[str, dict[str, str]] = {}
    for model, *_ in calls:
        table = model._meta.table_name
        sql = (
            "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        )
        declared[table] = dict(conn.execute(sql, (f'"{table}"',)).fetchall())
    conn.rollback()

    def copy(cur: Any, model: Any, names: Any, values: Any, mark: str, encoder_for: Any) -> None:
        table, columns, params, _ = bulk_rows._bound(model, names, values, encoder_for, False, sqlite3_binds=False)
        kinds = declared[model._meta.table_name]
        types = [_BINARY_TYPES.get(kinds[model._meta.fields[n].column_name]) for n in names]
        if len(params) < 2 or None in types or not bulk_rows._can_copy(cur, model, names, params):
            bulk_rows.insert_rows(cur, model, names, values, mark, encoder_for)
            return
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as out:  # nosec B608
            out.set_types(types)
            for row in params:
                out.write_row(row)

    return copy


def _statement_key(sql: Any) -> str:
    """A statement's text with its bound-value list and savepoint name shortened, as one line."""
    import re

    text = re.sub(r"\s+", " ", sql if isinstance(sql, str) else str(sql))
    text = re.sub(r"(%s, )+%s", "%s…", text)
    return re.sub(r"SAVEPOINT \S+", "SAVEPOINT …", text)[:110]


def statements(url: str, size: int, total: int, top: int) -> dict[str, Any]:
    """Per batch, each statement's count, wall ms and backend CPU ms (psycopg 3 calls wrapped)."""
    import collections
    import contextlib

    import psycopg

    from bench.profile_ingest import enrolled_hub
    from hub.db import database

    app, envelopes = enrolled_hub(url, size, total)
    seen: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    timing = [False]

    def backend_ns(conn: Any) -> int:
        try:
            return int(Path(f"/proc/{conn.pgconn.backend_pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError):
            return 0

    @contextlib.contextmanager
    def timed(conn: Any, key: str) -> Any:
        b0, t0 = backend_ns(conn), time.perf_counter()
        try:
            yield
        finally:
            if timing[0]:
                entry = seen[key]
                entry[0] += 1
                entry[1] += time.perf_counter() - t0
                entry[2] += (backend_ns(conn) - b0) / 1e9

    execute, executemany, copy, commit = (
        psycopg.Cursor.execute,
        psycopg.Cursor.executemany,
        psycopg.Cursor.copy,
        psycopg.Connection.commit,
    )

    def on_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        with timed(self.connection, _statement_key(query)):
            return execute(self, query, *args, **kwargs)

    def on_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        with timed(self.connection, "executemany " + _statement_key(query)):
            return executemany(self, query, *args, **kwargs)

    @contextlib.contextmanager
    def on_copy(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        with timed(self.connection, _statement_key(query)), copy(self, query, *args, **kwargs) as out:
            yield out

    def on_commit(self: Any) -> Any:
        with timed(self, "COMMIT"):
            return commit(self)

    # Round trips: every wait of psycopg's for an answer from the server. Outside pipeline mode each
    # statement is one (COPY two: its start, then its end; the data is sent without waiting); in
    # pipeline mode a statement is only sent, and the hub waits when it reads a result (`_fetch_gen`)
    # and at the end of the block (`_exit_gen`, its Sync).
    trips = [0]
    wait = psycopg.Connection.wait

    def on_wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(gen, "__qualname__", "") or getattr(gen, "__name__", "")
        if timing[0] and (
            name in ("BaseCursor._start_copy_gen", "copy_end", "BasePipeline._exit_gen", "BasePipeline._fetch_gen")
            or (name == "BaseCursor._execute_gen" and not self._pipeline)
        ):
            trips[0] += 1
        return wait(self, gen, *args, **kwargs)

    psycopg.Connection.wait = on_wait  # type: ignore[method-assign]
    psycopg.Cursor.execute = on_execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = on_executemany  # type: ignore[method-assign]
    psycopg.Cursor.copy = on_copy  # type: ignore[method-assign,assignment]
    psycopg.Connection.commit = on_commit  # type: ignore[method-assign]
    client = app.test_client()
    timing[0] = True
    t0 = time.perf_counter()
    for raw in envelopes:
        resp = client.post(
            "/api/v1/sync", data=raw, content_type="application/json", headers={"Content-Encoding": "deflate"}
        )
        assert resp.status_code == 200, resp.data[:300]
    wall = time.perf_counter() - t0
    timing[0] = False
    if not database.is_closed():
        database.close()
    n = len(envelopes)
    ranked = sorted(seen.items(), key=lambda kv: -kv[1][2])
    return {
        "ms_per_batch": round(1000 * wall / n, 1),
        "statements_per_batch": round(sum(v[0] for v in seen.values()) / n, 1),
        "round_trips_per_batch": round(trips[0] / n, 1),
        "statement_wall_ms_per_batch": round(1000 * sum(v[1] for v in seen.values()) / n, 2),
        "backend_cpu_ms_per_batch": round(1000 * sum(v[2] for v in seen.values()) / n, 2),
        "by_backend_cpu": [
            {
                "per_batch": round(c / n, 1),
                "wall_ms": round(1000 * w / n, 2),
                "cpu_ms": round(1000 * b / n, 2),
                "sql": k,
            }
            for k, (c, w, b) in ranked[:top]
        ],
        "load_avg": round(os.getloadavg()[0], 2),
    }


def waits(url: str, size: int, total: int, top: int) -> dict[str, Any]:
    """Per batch: wall, hub CPU, the request backend's CPU, and psycopg's waits by kind and call site."""
    import collections
    import traceback

    import psycopg

    from bench.profile_ingest import enrolled_hub
    from hub.db import database

    app, envelopes = enrolled_hub(url, size, total)
    seen: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0])
    timing = [False]
    backends: set[int] = set()
    wait = psycopg.Connection.wait

    def site() -> str:
        for frame in reversed(traceback.extract_stack(limit=30)[:-2]):
            path = frame.filename.replace(os.sep, "/")
            if ("/hub/" in path or "/shared/" in path) and not path.endswith("hub/db.py"):
                return f"{'/'.join(path.rsplit('/', 2)[-2:])}:{frame.lineno} {frame.name}"
        return "?"

    def on_wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        if not timing[0]:
            return wait(self, gen, *args, **kwargs)
        backends.add(self.pgconn.backend_pid)
        name = getattr(gen, "__qualname__", "") or getattr(gen, "__name__", "")
        key = (name + (" (pipeline)" if self._pipeline else ""), site())
        t0 = time.perf_counter()
        try:
            return wait(self, gen, *args, **kwargs)
        finally:
            entry = seen[key]
            entry[0] += 1
            entry[1] += time.perf_counter() - t0

    def backend_ns() -> int:
        spent = 0
        for pid in backends:
            try:
                spent += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
            except (OSError, ValueError):
                pass
        return spent

    psycopg.Connection.wait = on_wait  # type: ignore[method-assign]
    client = app.test_client()
    client.post(
        "/api/v1/sync", data=envelopes[0], content_type="application/json", headers={"Content-Encoding": "deflate"}
    )
    timing[0] = True
    client.post(
        "/api/v1/sync", data=envelopes[1], content_type="application/json", headers={"Content-Encoding": "deflate"}
    )
    seen.clear()  # the first two batches open and warm the connection
    b0, c0, t0 = backend_ns(), time.process_time(), time.perf_counter()
    for raw in envelopes[2:]:
        resp = client.post(
            "/api/v1/sync", data=raw, content_type="application/json", headers={"Content-Encoding": "deflate"}
        )
        assert resp.status_code == 200, resp.data[:300]
    wall, cpu, backend = time.perf_counter() - t0, time.process_time() - c0, (backend_ns() - b0) / 1e9
    timing[0] = False
    psycopg.Connection.wait = wait  # type: ignore[method-assign]
    if not database.is_closed():
        database.close()
    n = len(envelopes) - 2
    waited = sum(w for _, w in seen.values())
    ranked = sorted(seen.items(), key=lambda kv: -kv[1][1])
    return {
        "wall_ms_per_batch": round(1000 * wall / n, 1),
        "hub_cpu_ms_per_batch": round(1000 * cpu / n, 1),
        "backend_cpu_ms_per_batch": round(1000 * backend / n, 1),
        "waits_per_batch": round(sum(c for c, _ in seen.values()) / n, 1),
        "waiting_ms_per_batch": round(1000 * waited / n, 1),
        "copy_waiting_ms_per_batch": round(1000 * sum(w for (k, _), (_, w) in seen.items() if "copy" in k) / n, 1),
        "by_wait": [
            {"ms": round(1000 * w / n, 2), "per_batch": round(c / n, 1), "wait": k, "site": s}
            for (k, s), (c, w) in ranked[:top]
        ],
        "load_avg": round(os.getloadavg()[0], 2),
    }


def round_trip(url: str, count: int = 500) -> dict[str, Any]:
    """Wall microseconds of one `SELECT 1` round trip on a warm connection, with this process computing
    for 0, 100, 500 or 2,000 µs between statements (as the hub computes between a batch's statements):
    while the hub computes, its backend sleeps, and on shared cores it must be scheduled again to answer."""
    import psycopg

    out: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        for gap_us in (0, 100, 500, 2000):
            spent = 0.0
            for _ in range(count):
                until = time.perf_counter() + gap_us / 1e6
                while time.perf_counter() < until:  # computing, as the hub does between statements
                    pass
                t0 = time.perf_counter()
                cur.execute("SELECT 1")
                cur.fetchone()
                spent += time.perf_counter() - t0
            out[f"after_{gap_us}us_computing"] = round(1e6 * spent / count)
    out["load_avg"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--events", type=int, default=4000)
    ap.add_argument("--rows", action="store_true", help="time one batch's rows alone: COPY, executemany, no FKs")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--keep-connection", action="store_true", help="what-if: one connection for every request")
    ap.add_argument("--statements", action="store_true", help="per statement: count, wall and backend CPU per batch")
    ap.add_argument("--top", type=int, default=25, help="--statements: how many to list")
    ap.add_argument("--round-trip", action="store_true", help="µs per round trip, after the hub computed a while")
    ap.add_argument(
        "--waits", action="store_true", help="a batch's wall: hub CPU, backend CPU, psycopg's waits by site"
    )
    # This checkout's bench package (enrolled_hub); hub/ and shared/ come from the tree measured.
    import bench.profile_ingest  # noqa: F401
    from bench.tree import parse_args

    args = parse_args(ap)
    from bench.harness import pg_database

    with pg_database() as pg:
        if not pg:
            sys.exit("no PostgreSQL server answers")
        listed = {
            "statements": (
                statements,
                "by_backend_cpu",
                "backend CPU ms | wall ms | per batch | statement",
                "{cpu_ms:14.2f} | {wall_ms:7.2f} | {per_batch:9.1f} | {sql}",
            ),
            "waits": (
                waits,
                "by_wait",
                "wall ms | per batch | wait | where",
                "{ms:7.2f} | {per_batch:9.1f} | {wait} | {site}",
            ),
        }
        mode = "statements" if args.statements else "waits" if args.waits else None
        if mode is not None:
            measure, key, header, line = listed[mode]
            figures = measure(pg, args.size, args.events, args.top)
            entries = figures.pop(key)
            print(json.dumps(figures))
            print(header)
            for entry in entries:
                print(line.format(**entry))
        elif args.rows:
            print(json.dumps(rows(pg, args.reps)))
        elif args.round_trip:
            print(json.dumps(round_trip(pg)))
        else:
            print(json.dumps(run(pg, args.size, args.events, args.keep_connection)))


if __name__ == "__main__":
    main()
