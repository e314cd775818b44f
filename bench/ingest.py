"""Hub ingest throughput through the real sync endpoint of a real hub process, SQLite and PostgreSQL.

Two setups: one node at a time against `daiban hub run` (batch50/200/1000), and N villages at once
(BENCH_INGEST_NODES, default 3; each its own node, batches of 200) against the hub served as
production serves it: gunicorn with deploy/hub's workers, threads and sync admission
(bench/production.py). A refused sync (429) is sent again after the wait it names, as a node does.
BENCH_HUB_TREE=/path/to/checkout serves that checkout's hub (and shared/) instead (gunicorn
--chdir; `daiban hub run` with that tree first on its path, bench.harness.serving_tree), for a
before/after in one sitting with this bench script; each figure records the tree it served. BENCH_INGEST_ONLY=concurrent
runs only the N-at-once figures; BENCH_INGEST_ONLY=held measures in one process the hub's CPU per
event in all and while the batch's transaction is open (what villages take turns for);
BENCH_INGEST_ONLY=handoff how busy 3 SQLite writers with that shape of batch keep the write lock.
BENCH_INGEST_ONLY=pg runs only one node at a time on PostgreSQL (BENCH_INGEST_BATCH=200: that size
alone), the figures `ingest.postgresql.batchN`; BENCH_INGEST_ONLY=sqlite the same on SQLite.
BENCH_INGEST_ONLY=growth runs only the cost growth (BENCH_GROWTH_DB=sqlite or pg for one database).
BENCH_IDS picks the ids the benches' nodes send (bench.workload.ID_RULES).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests import support

from . import production
from .harness import (
    RUNS,
    WireNode,
    bytes_written,
    cpu_seconds,
    hub_codes,
    hub_process,
    load_average,
    log,
    median,
    pg_database,
    scaled,
    served_from,
    serving_tree,
    sqlite_url,
)
from .many_nodes import at_once, gunicorn

BATCH_SIZES = (50, 200, 1000)
GROWTH_LEVELS = (1_000, 10_000, 100_000)
CONCURRENT_NODES = int(os.environ.get("BENCH_INGEST_NODES", "3"))
CONCURRENT_BATCH = 200
HUB_TREE = os.environ.get("BENCH_HUB_TREE", "")


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
    with serving_tree(HUB_TREE):
        out: dict[str, Any] = {"hub_package": served_from()}
    with hub_process(tmp, db_url, HUB_TREE) as hub:
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
                f"{median(cpu_rates):.0f} per hub CPU second, load {load}, hub from {out['hub_package']}"
            )
    return out


def children_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of each child of a process (gunicorn's workers), by pid."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found[int(stat.parent.name)] = cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # a process that ended while we looked
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its children (gunicorn's master and its workers)."""
    return cpu_seconds(pid) + sum(children_cpu_seconds(pid).values())


def production_hub(hub_dir: Path, db_url: str) -> tuple[Any, str, dict[str, Any]]:
    """gunicorn as deploy/hub serves the hub (BENCH_HUB_TREE's hub if set): (process, base URL, setup)."""
    args, env = production.serving_args(), production.admission_env()
    if HUB_TREE:
        # gunicorn puts --chdir first on sys.path unless it is already there: so not on PYTHONPATH too.
        args = [*args, "--chdir", HUB_TREE]
    port = support.free_port()
    proc = gunicorn(hub_dir, db_url, port, args, env, workers=production.workers())
    setup = {"workers": production.workers(), "gunicorn_args": args, "env": env, "hub_tree": HUB_TREE or "this"}
    return proc, f"http://127.0.0.1:{port}", setup


def bench_concurrent(kind: str, db_url: str | None, tmp: Path, n: int = CONCURRENT_NODES) -> dict[str, Any]:
    """n villages at once, batches of 200, into gunicorn as production runs it: wall events/s, hub CPU per event."""
    hub = support.make_hub(tmp, db_url)
    url = db_url or sqlite_url(hub.data_dir)
    proc, base, setup = production_hub(hub.data_dir, url)
    events = max(scaled(2000), 2 * CONCURRENT_BATCH)
    rates, cpu_rates, refused, loads, spread = [], [], 0, [], []
    try:
        for run in range(RUNS):
            codes = hub_codes(url, [f"{kind}同时{run}村{i}" for i in range(n)])
            nodes = [WireNode(base, code, seed=9000 + 100 * run + i) for i, code in enumerate(codes)]
            work = [node.batches(events, CONCURRENT_BATCH) for node in nodes]
            loads.append(load_average())
            cpu0, workers0 = tree_cpu_seconds(proc.pid), children_cpu_seconds(proc.pid)
            wall, tally = at_once(nodes, work)
            cpu, workers1 = tree_cpu_seconds(proc.pid) - cpu0, children_cpu_seconds(proc.pid)
            # How the syncs fell on workers: two in one worker share its interpreter lock, one core.
            spread.append(sorted((round(t - workers0.get(w, 0.0), 2) for w, t in workers1.items()), reverse=True))
            if tally.errors or len(tally.per_batch) != n * len(work[0]):
                raise RuntimeError(f"{kind} {n} nodes at once: {len(tally.errors)} errors {sorted(set(tally.errors))}")
            rates.append(n * events / wall)
            cpu_rates.append(n * events / cpu)
            refused += tally.refused
    finally:
        proc.terminate()
        proc.wait(20)
    # A worker that met SQLITE_BUSY past the busy timeout would have logged it (and the batch would be an error).
    locked = (hub.data_dir / "gunicorn.log").read_text(errors="replace").count("database is locked")
    out = {
        "nodes": n,
        "batch": CONCURRENT_BATCH,
        "events_per_node": events,
        "events_per_s": round(median(rates)),
        "runs": [round(r) for r in rates],
        "events_per_hub_cpu_s": round(median(cpu_rates)),
        "hub_cpu_us_per_event": round(1e6 / median(cpu_rates)),
        "cpu_runs": [round(r) for r in cpu_rates],
        "worker_cpu_s": spread,
        "refused_429": refused,
        "errors": 0,
        "database_is_locked": locked,
        "load_avg": loads,
        **setup,
    }
    log(
        f"ingest {kind} {n} nodes at once, batch {CONCURRENT_BATCH}, gunicorn {setup['workers']} workers: "
        f"{out['events_per_s']} events/s (runs {out['runs']}), {out['events_per_hub_cpu_s']} per hub CPU second "
        f"({out['hub_cpu_us_per_event']} µs per event), {refused} answered 429, {locked} 'database is locked', "
        f"CPU s per worker {spread}, load {loads}"
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
    """Ingest rate (batches of 200) when the hub already holds 1k, 10k, 100k requests.

    Each level: RUNS new villages (keys "1000", ...), then the filling village itself sends as
    many batches again ("1000 own"): a village with a history, whose new request ids land among
    its own held ones.
    """
    out: dict[str, Any] = {}
    with hub_process(tmp, db_url, HUB_TREE) as hub:
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
            load = load_average()
            batches = RUNS * scaled(1000) / 200
            w0 = bytes_written(hub.proc.pid)
            cpu_rates: list[float] = []
            rates = throughput(hub, url, 200, scaled(1000), f"{kind}增{level}", cpu_rates)
            w1 = bytes_written(hub.proc.pid)
            own, own_cpu = [], []
            for _ in range(RUNS):
                envelopes = filler.batches(scaled(1000), 200)
                cpu0 = cpu_seconds(hub.proc.pid)
                secs, _accepted = timed_ingest(filler, envelopes)
                own_cpu.append(scaled(1000) / max(cpu_seconds(hub.proc.pid) - cpu0, 0.01))
                own.append(scaled(1000) / secs)
                held += scaled(1000)
            out[str(level)] = round(median(rates))
            out[f"{level} own"] = round(median(own))
            out[f"{level} per hub CPU s"] = round(median(cpu_rates))
            out[f"{level} own per hub CPU s"] = round(median(own_cpu))
            # What the hub process wrote per batch of 200 (on SQLite mostly WAL frames of a page each,
            # and the checkpoints copying them back; on PostgreSQL the server writes, not the hub).
            out[f"{level} KB written per batch"] = round((w1 - w0) / batches / 1024)
            out[f"{level} own KB written per batch"] = round((bytes_written(hub.proc.pid) - w1) / batches / 1024)
            log(
                f"ingest {kind} at {level} requests held: {median(rates):.0f} events/s, the filling village "
                f"itself {median(own):.0f} (runs {', '.join(f'{r:.0f}' for r in own)}); per hub CPU second "
                f"{median(cpu_rates):.0f} / {median(own_cpu):.0f}; hub wrote "
                f"{out[f'{level} KB written per batch']} / {out[f'{level} own KB written per batch']} KB per batch, "
                f"load {load}"
            )
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
        result["sqlite"]["concurrent200"] = bench_concurrent("sqlite", None, Path(tmp) / "sc")
        result["growth_sqlite"] = bench_growth("sqlite", None, Path(tmp) / "g", levels)
        if os.environ.get("BENCH_STAFFED") == "1":
            # With staff on every window the routing rule runs for each new case (slow: opt-in).
            result["growth_sqlite_staffed"] = bench_growth("sqlite+staff", None, Path(tmp) / "gs", levels, staff=10)
        with pg_database() as pg:
            if pg:
                result["postgresql"] = bench_database("pg", pg, Path(tmp) / "p")
        with pg_database() as pg:
            if pg:
                result.setdefault("postgresql", {})["concurrent200"] = bench_concurrent("pg", pg, Path(tmp) / "pc")
        with pg_database() as pg:
            if pg:
                result["growth_postgresql"] = bench_growth("pg", pg, Path(tmp) / "gp", pg_levels)
    return result


def held_cpu(url: str, events: int, size: int = CONCURRENT_BATCH) -> dict[str, float]:
    """In one process (Flask test client): CPU per event in all, and while the batch's transaction is open.

    The second is what batches from different villages take turns for (SQLite's write lock, the
    node row lock on PostgreSQL), from BEGIN to COMMIT; the rest can run beside another batch.
    """
    from hub import ingest as hub_ingest

    from .profile_ingest import enrolled_hub

    app, envelopes = enrolled_hub(url, size, events)
    client, proxy, held = app.test_client(), hub_ingest.database, [0.0]

    class Timed:
        """hub.ingest's database, its transactions timed in this thread's CPU clock."""

        def __getattr__(self, name: str) -> Any:
            return getattr(proxy, name)

        @contextlib.contextmanager
        def atomic(self) -> Any:
            t0 = time.thread_time()
            try:
                with proxy.atomic():
                    yield
            finally:
                held[0] += time.thread_time() - t0

    hub_ingest.database = Timed()
    try:
        cpu0 = time.process_time()
        for raw in envelopes:
            resp = client.post(
                "/api/v1/sync", data=raw, content_type="application/json", headers={"Content-Encoding": "deflate"}
            )
            if resp.status_code != 200:
                raise RuntimeError(f"hub refused a batch: {resp.status_code}")
        cpu = time.process_time() - cpu0
    finally:
        hub_ingest.database = proxy
        if not proxy.is_closed():
            proxy.close()
    return {"cpu_us_per_event": 1e6 * cpu / events, "held_us_per_event": 1e6 * held[0] / events}


def run_held() -> dict[str, Any]:
    """held_cpu for SQLite and PostgreSQL, RUNS runs each (BENCH_INGEST_ONLY=held; BENCH_HUB_TREE's hub if set)."""
    from . import profile_ingest  # noqa: F401 - imported first: it sets sys.path[0] when imported

    if HUB_TREE:
        sys.path.insert(0, HUB_TREE)  # before hub is first imported: this process measures that tree's hub
    events = scaled(4000)
    result: dict[str, Any] = {"events_per_run": events}
    with tempfile.TemporaryDirectory(prefix="bench-held-") as tmp:
        for kind in ("sqlite", "postgresql"):
            runs = []
            for run in range(RUNS):
                with pg_database() if kind == "postgresql" else contextlib.nullcontext(None) as pg:
                    if kind == "sqlite":
                        runs.append(held_cpu(f"sqlite:///{tmp}/hub{run}.sqlite3", events))
                    elif pg:
                        runs.append(held_cpu(pg, events))
            if runs:
                result[kind] = {
                    k: round(median([r[k] for r in runs]), 1) for k in ("cpu_us_per_event", "held_us_per_event")
                }
                result[kind]["runs"] = [{k: round(v, 1) for k, v in r.items()} for r in runs]
                log(f"ingest {kind} in one process, µs per event, all / transaction open: {result[kind]}")
    result["hub"] = sys.modules["hub"].__file__
    return result


# The handoff bench's batch: the write transaction held 94 µs and the rest 88 µs per event, batches of
# 200 (BENCH_INGEST_ONLY=held on this machine), slept instead of computed so the machine's load hardly counts.
HANDOFF_HELD_S = 200 * 94e-6
HANDOFF_OUTSIDE_S = 200 * 88e-6
HANDOFF_BATCHES = 40


def _handoff_writer(url: str, out: Any) -> None:
    from hub.db import open_database

    db = open_database(url)
    waits = []
    for i in range(HANDOFF_BATCHES):
        time.sleep(HANDOFF_OUTSIDE_S)
        t0 = time.perf_counter()
        with db.atomic():
            waits.append(time.perf_counter() - t0)
            db.execute_sql("INSERT INTO batch (n) VALUES (?)", (i,))
            time.sleep(HANDOFF_HELD_S)
    db.close()
    out.put(waits)


def handoff(url: str, writers: int) -> dict[str, Any]:
    """`writers` processes each write HANDOFF_BATCHES batches at once: how busy the write lock was kept."""
    import multiprocessing

    from hub.db import open_database

    db = open_database(url)
    db.execute_sql("CREATE TABLE batch (n INTEGER)")
    db.close()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_handoff_writer, args=(url, out)) for _ in range(writers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    waits = [w for _ in procs for w in out.get(timeout=600)]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    busy = writers * HANDOFF_BATCHES * HANDOFF_HELD_S
    waits.sort()
    return {
        "wall_s": round(wall, 2),
        "lock_busy_share": round(busy / wall, 3),
        "wait_p50_ms": round(1000 * waits[len(waits) // 2], 1),
        "wait_p99_ms": round(1000 * waits[int(len(waits) * 0.99)], 1),
    }


def run_handoff() -> dict[str, Any]:
    """BENCH_INGEST_ONLY=handoff: 3 SQLite writers with the ingest's shape of batch, RUNS runs (BENCH_HUB_TREE's hub if set)."""
    if HUB_TREE:
        sys.path.insert(0, HUB_TREE)  # before hub is first imported: this process measures that tree's hub
    result: dict[str, Any] = {"writers": CONCURRENT_NODES, "held_ms": HANDOFF_HELD_S * 1000}
    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as tmp:
        runs = [handoff(f"sqlite:///{tmp}/hub{run}.sqlite3", CONCURRENT_NODES) for run in range(RUNS)]
    result["lock_busy_share"] = median([r["lock_busy_share"] for r in runs])
    result["runs"] = runs
    result["hub"] = sys.modules["hub"].__file__
    log(f"SQLite write lock kept busy by {CONCURRENT_NODES} writers: {result['lock_busy_share']:.0%} ({runs})")
    return result


def run_pg() -> dict[str, Any]:
    """Only one node at a time on PostgreSQL (BENCH_INGEST_ONLY=pg), the sizes BENCH_INGEST_BATCH names."""
    global BATCH_SIZES
    if os.environ.get("BENCH_INGEST_BATCH"):
        BATCH_SIZES = tuple(int(n) for n in os.environ["BENCH_INGEST_BATCH"].split(","))
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, pg_database() as pg:
        return {"postgresql": bench_database("pg", pg, Path(tmp) / "p")} if pg else {}


def run_sqlite() -> dict[str, Any]:
    """Only one node at a time on SQLite (BENCH_INGEST_ONLY=sqlite), the sizes BENCH_INGEST_BATCH names."""
    global BATCH_SIZES
    if os.environ.get("BENCH_INGEST_BATCH"):
        BATCH_SIZES = tuple(int(n) for n in os.environ["BENCH_INGEST_BATCH"].split(","))
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        return {"sqlite": bench_database("sqlite", None, Path(tmp) / "s")}


def run_growth() -> dict[str, Any]:
    """Only the cost growth, SQLite then PostgreSQL (BENCH_INGEST_ONLY=growth; BENCH_GROWTH_MAX, BENCH_IDS)."""
    top = int(os.environ.get("BENCH_GROWTH_MAX", "10000"))
    levels = tuple(lv for lv in GROWTH_LEVELS if lv <= min(top, scaled(100_000)))
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        if os.environ.get("BENCH_GROWTH_DB", "sqlite,pg") != "pg":
            result["growth_sqlite"] = bench_growth("sqlite", None, Path(tmp) / "g", levels)
        if "pg" in os.environ.get("BENCH_GROWTH_DB", "sqlite,pg"):
            with pg_database() as pg:
                if pg:
                    result["growth_postgresql"] = bench_growth("pg", pg, Path(tmp) / "gp", levels)
    return result


def run_concurrent() -> dict[str, Any]:
    """Only the figures of N nodes at once (BENCH_INGEST_ONLY=concurrent): for a quick before/after."""
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        result["sqlite"] = {"concurrent200": bench_concurrent("sqlite", None, Path(tmp) / "sc")}
        with pg_database() as pg:
            if pg:
                result["postgresql"] = {"concurrent200": bench_concurrent("pg", pg, Path(tmp) / "pc")}
    return result


if __name__ == "__main__":
    import json

    only = os.environ.get("BENCH_INGEST_ONLY", "")
    chosen = {
        "concurrent": run_concurrent,
        "held": run_held,
        "pg": run_pg,
        "sqlite": run_sqlite,
        "handoff": run_handoff,
        "growth": run_growth,
    }.get(only, run)
    print(json.dumps(chosen(), ensure_ascii=False, indent=1))
