"""What every benchmark needs: real hub and node processes, PostgreSQL databases, statistics, a wire client."""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import requests

from shared import protocol, signing
from tests import nodesim, support

from . import workload

ROOT = support.ROOT
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def scaled(n: int) -> int:
    """A workload size multiplied by BENCH_SCALE (at least 1)."""
    return max(1, int(n * SCALE))


def median(values: list[float]) -> float:
    """Median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def log(msg: str) -> None:
    """Progress on stderr, so the table on stdout stays clean."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def pg_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database (dropped after), or None when no server answers."""
    gen = support.pg_database()
    try:
        url = next(gen)
    except BaseException as exc:  # noqa: BLE001 - pytest's Skipped is a BaseException
        log(f"PostgreSQL unavailable: {exc}")
        yield None
        return
    try:
        yield url
    finally:
        with contextlib.suppress(StopIteration):
            next(gen)


def sqlite_url(hub_dir: Path) -> str:
    """The hub's own SQLite file."""
    return f"sqlite:///{hub_dir / 'hub.sqlite3'}"


@contextlib.contextmanager
def serving_tree(tree: str | None) -> Iterator[None]:
    """Processes started inside import hub/ and shared/ from tree (no-op without one).

    `python -m` puts the working directory (this checkout) first on the path; PYTHONSAFEPATH
    leaves it off, so PYTHONPATH's tree comes first and this checkout after it.
    """
    if not tree:
        yield
        return
    saved = {k: os.environ.get(k) for k in ("PYTHONSAFEPATH", "PYTHONPATH")}
    os.environ["PYTHONSAFEPATH"], os.environ["PYTHONPATH"] = "1", os.pathsep.join([tree, str(ROOT)])
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def served_from() -> str:
    """The hub package a process started now imports (proof of which tree is measured)."""
    out = subprocess.run(
        [sys.executable, "-c", "import hub, os; print(os.path.dirname(hub.__file__))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return out.stdout.strip()


@contextlib.contextmanager
def hub_process(tmp: Path, database_url: str | None = None, tree: str | None = None) -> Iterator[support.Service]:
    """`daiban hub run` on a fresh database (tree's hub and shared/ when given), stopped after."""
    with serving_tree(tree):
        hub = support.make_hub(tmp, database_url)
        hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def hub_codes(database_url: str, villages: list[str]) -> list[str]:
    """One-time enrolment codes issued in this process against the hub's database."""
    from hub.db import bind, database, open_database
    from hub.enrolment import issue_code

    db = open_database(database_url)
    bind(db)
    with database.connection_context():
        codes = [issue_code(v) for v in villages]
    db.close()
    return codes


class _HttpClient:
    """Enough of a Flask test client over real HTTP for tests.nodesim.enrol (both enrolment rounds)."""

    def __init__(self, session: requests.Session, base_url: str):
        self.session, self.base_url = session, base_url

    def post(self, path: str, data: bytes, content_type: str) -> Any:
        resp = self.session.post(self.base_url + path, data=data, headers={"Content-Type": content_type}, timeout=30)
        resp.data = resp.content  # type: ignore[attr-defined]  # nodesim reads a Flask test response's .data
        return resp


class WireNode:
    """A village node reduced to its wire behaviour: enrol, sign contiguous batches, post them."""

    def __init__(self, base_url: str, code: str, seed: int = 1):
        self.url = base_url.rstrip("/")
        self.session = requests.Session()
        self.start_chain(seed)
        status, body = nodesim.enrol(_HttpClient(self.session, self.url), code, self.key)
        if status != 200:
            raise RuntimeError(f"enrolment refused: {status} {body.get('error')}")
        self.node_id, self.prefix = body["node_id"], body["prefix"]

    def start_chain(self, seed: int) -> None:
        """A new node's key, its captures to come (seeded) and an empty chain."""
        self.key = signing.generate_key()
        self.rng = random.Random(seed)
        # Its captures 1-10 minutes apart, from 400 days back: a filler of 100k stays in the past,
        # and its request ids carry the days a village's would (bench.workload.wire_events).
        self.times = workload.clerk_times(seed, protocol.utcnow() - timedelta(days=400))
        self.seq, self.last_hash, self.cursor = 0, protocol.GENESIS_HASH, 0

    def batches(self, total: int, size: int) -> list[bytes]:
        """Signed, compressed envelopes for `total` new captures in batches of `size`, chained."""
        out = []
        while total > 0:
            n = min(size, total)
            events = workload.wire_events(self.rng, self.prefix, self.seq + 1, n, self.times)
            # A fresh node's captures each add one entry to its downstream log, so the cursor a
            # real node would hold after applying the previous answer is its sequence so far.
            body = protocol.batch_body(
                self.node_id, events, self.last_hash, self.seq, catalogue_version=1, app_version="bench"
            )
            out.append(zlib.compress(protocol.seal(self.key, body), 6))
            self.seq = body["last_seq"]
            self.last_hash = protocol.body_hash(body)
            total -= n
        return out

    def post(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        """Send a compressed envelope; (status, response body)."""
        # Imported here: an older tree measured with --tree may not have it.
        from node.transport import post_resending_once

        resp = post_resending_once(
            self.session,
            self.url + "/api/v1/sync",
            data=raw,
            timeout=120,
            headers={"Content-Type": "application/json", "Content-Encoding": "deflate"},
        )
        body = resp.json()["body"]
        if resp.status_code == 200:
            self.cursor = body.get("cursor", self.cursor)
        return resp.status_code, body


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    disk = subprocess.run(["df", "-h", str(ROOT)], capture_output=True, text=True).stdout.splitlines()[-1:]
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "disk": disk[0] if disk else "",
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_io(pid: int) -> dict[str, int]:
    """A process's I/O counters so far (/proc/PID/io: `rchar`, `wchar`, `syscr`, …)."""
    fields = (line.split(":") for line in Path(f"/proc/{pid}/io").read_text().splitlines() if line)
    return {name: int(value) for name, value in fields}


def bytes_written(pid: int) -> int:
    """Bytes a process has passed to write() so far (`wchar`: the WAL's frames, checkpoints, logs)."""
    return process_io(pid).get("wchar", 0)


def load_average() -> float:
    """The 1-minute load average: other work on this machine makes wall-clock figures slower."""
    return round(os.getloadavg()[0], 2)
