"""Issue #13's CouchDB-style peer, measured here: PouchDB 9 replicating to pouchdb-server 4.2.

The end-to-end budget is 3x this figure of the same sitting. The same seeded requests as the
node's end-to-end run (bench.workload, the way bench.nodefill.bulk_history fills a node) are
written as JSON lines, one CouchDB document per request; bench/peer/replicate.js
loads them into a local LevelDB PouchDB and times `db.replicate.to(remote)` against a
pouchdb-server (LevelDB, its default) on a free loopback port. The npm packages are pinned in
bench/peer/package-lock.json and installed into bench/peer/node_modules on first use; without
node, npm or the registry the section is skipped with the reason.

    .venv/bin/python -m bench.peer                # loopback 10k, wire bytes of 1,000, the 2G link
    .venv/bin/python -m bench.peer e2e            # only the loopback figure
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import requests

from . import workload
from .harness import RUNS, load_average, log, median, scaled
from .linkshaper import LinkShaper

PEER = Path(__file__).resolve().parent / "peer"
SERVER_BIN = PEER / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"
TWO_G = {"kbit": 64, "delay_ms": 150}  # the same link as bench.sync_link


class PeerUnavailable(RuntimeError):
    """node, npm or the npm registry is missing: the peer section is skipped."""


def install() -> None:
    """The pinned packages in bench/peer/node_modules (`npm ci` once, from package-lock.json)."""
    if shutil.which("node") is None:
        raise PeerUnavailable("node is not installed")
    if SERVER_BIN.exists() and (PEER / "node_modules" / "pouchdb" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise PeerUnavailable("npm is not installed")
    log("peer: npm ci in bench/peer (pouchdb 9.0.0, pouchdb-server 4.2.0; about a minute)")
    # --ignore-scripts: leveldown ships prebuilt binaries that it finds at run time, and the
    # optional sqlite3 build of pouchdb-server (not used here) would need a compiler.
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    try:
        out = subprocess.run(cmd, cwd=PEER, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailable("npm ci did not finish in 15 minutes (is the registry reachable?)") from exc
    if out.returncode != 0:
        raise PeerUnavailable(f"npm ci failed (is the registry reachable?): {out.stderr.strip()[-500:]}")


def documents(n: int, seed: int, prefix: str = "22") -> list[dict[str, Any]]:
    """n CouchDB documents: the requests bench.nodefill.bulk_history queues for this seed."""
    from shared import protocol
    from shared.receipt_codes import new_code

    def now() -> str:
        return protocol.iso(protocol.utcnow())

    rng = random.Random(seed)
    pool: list[dict[str, Any]] = []
    docs = []
    for _ in range(n):
        # As bulk_history: 5,000 distinct people, then the same villagers back with new receipt codes.
        if len(pool) < 5000:
            pool.append(workload.captured_record(rng, prefix))
            rec = pool[-1]
        else:
            rec = dict(rng.choice(pool), receipt_code=new_code(prefix, rng))
        # One document per request, carrying what the node's `request.captured` event carries
        # (id, clerk, time, the record); the request id is the document id.
        docs.append({"_id": protocol.new_id(), "type": "request", "clerk": "李文书", "at": now(), **rec})
    return docs


def write_docs(path: Path, n: int, seed: int) -> int:
    """The documents as JSON lines (UTF-8); their mean size in bytes."""
    lines = [json.dumps(d, ensure_ascii=False, separators=(",", ":")) for d in documents(n, seed)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return round(sum(len(line.encode()) for line in lines) / n)


def free_port() -> int:
    """A loopback port nobody listens on just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(tmp: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """pouchdb-server on LevelDB in tmp, on a free loopback port; stopped after."""
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    cmd = ["node", str(SERVER_BIN), "--host", "127.0.0.1", "--port", str(port), "--dir", str(tmp)]
    cmd += ["--config", str(tmp / "config.json"), "--no-stdout-logs"]
    with open(tmp / "server.out", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                text = (tmp / "server.out").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"pouchdb-server did not start: {text}")
            time.sleep(0.2)
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def replicate(docs: Path, remote: str, local: Path, server_pid: int) -> dict[str, Any]:
    """One run of bench/peer/replicate.js; its JSON report."""
    cmd = ["node", str(PEER / "replicate.js"), "--docs", str(docs), "--remote", remote, "--local", str(local)]
    cmd += ["--server-pid", str(server_pid), "--clk-tck", str(os.sysconf("SC_CLK_TCK"))]
    out = subprocess.run(cmd, cwd=PEER, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def check(port: int, db: str, n: int) -> None:
    """Every document arrived (asked of the server directly, not through a proxy)."""
    count = requests.get(f"http://127.0.0.1:{port}/{db}", timeout=30).json().get("doc_count")
    if count != n:
        raise RuntimeError(f"peer replication incomplete: {count} of {n} documents on the server")


def loopback(tmp: Path) -> dict[str, Any]:
    """10,000 documents, local PouchDB → pouchdb-server over loopback, RUNS times."""
    n = scaled(10_000)
    rates, cpu_rates, seconds, loads, clients, servers = [], [], [], [], [], []
    size = 0
    with server(tmp / "server") as (proc, port):
        for run in range(RUNS):
            docs = tmp / f"docs{run}.jsonl"
            size = write_docs(docs, n, seed=10 + run)  # the seeds of bench.sync_link's e2e runs
            loads.append(load_average())
            rep = replicate(docs, f"http://127.0.0.1:{port}/requests{run}", tmp / f"local{run}", proc.pid)
            check(port, f"requests{run}", n)
            rates.append(n / rep["seconds"])
            cpu_rates.append(n / (rep["client_cpu_s"] + rep["server_cpu_s"]))
            seconds.append(rep["seconds"])
            clients.append(rep["client_cpu_s"])
            servers.append(rep["server_cpu_s"])
            log(
                f"peer loopback {n} docs: {rep['seconds']:.2f} s ({n / rep['seconds']:.0f} docs/s), "
                f"CPU client {rep['client_cpu_s']:.2f} s + server {rep['server_cpu_s']:.2f} s, load {loads[-1]}"
            )
    return {
        "docs": n,
        "doc_bytes": size,
        "docs_per_s": round(median(rates)),
        "seconds": round(median(seconds), 2),
        "docs_per_cpu_s": round(median(cpu_rates)),
        "client_cpu_s": round(median(clients), 2),
        "server_cpu_s": round(median(servers), 2),
        "load_avg": median(loads),
        "runs": [round(r) for r in rates],
    }


def through_link(tmp: Path, name: str, **shape: Any) -> dict[str, Any]:
    """1,000 documents through bench.linkshaper's counting proxy (shaped when given kbit and delay)."""
    n = scaled(1000)
    docs = tmp / f"{name}.jsonl"
    write_docs(docs, n, seed=20)
    with server(tmp / f"{name}-server") as (proc, port):
        with LinkShaper(("127.0.0.1", port), **shape) as link:
            rep = replicate(docs, f"{link.url}/{name}", tmp / f"{name}-local", proc.pid)
            c = link.counters
        check(port, name, n)
    log(
        f"peer {name} {n} docs: {rep['seconds']:.1f} s, up {c.up_bytes / n:.0f} B, down {c.down_bytes / n:.0f} B "
        f"per doc, {c.round_trips} round trips, {c.connections} connections"
    )
    out = {
        "docs": n,
        "seconds": round(rep["seconds"], 1),
        "bytes_per_doc": round((c.up_bytes + c.down_bytes) / n),
        "up_per_doc": round(c.up_bytes / n),
        "down_per_doc": round(c.down_bytes / n),
        "round_trips": c.round_trips,
        "connections": c.connections,
    }
    if shape.get("kbit"):
        need = (c.up_bytes + c.down_bytes) / (shape["kbit"] * 1000 / 8)
        out.update(ideal_seconds=round(need, 1), ratio=round(rep["seconds"] / need, 2))
    return out


def run(which: tuple[str, ...] = ("e2e", "wire", "2g")) -> dict[str, Any]:
    """The peer's figures, or {"skipped": reason} without node, npm or the registry."""
    try:
        install()
    except PeerUnavailable as exc:
        log(f"peer section skipped: {exc}")
        return {"skipped": str(exc)}
    out: dict[str, Any] = {"pouchdb": "9.0.0", "pouchdb_server": "4.2.0", "adapter": "leveldb"}
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        t = Path(tmp)
        if "e2e" in which:
            out["loopback"] = loopback(t)
        if "wire" in which:
            out["wire"] = through_link(t, "wire")
        if "2g" in which:
            out["two_g"] = through_link(t, "twog", **TWO_G)
    return out


if __name__ == "__main__":
    print(json.dumps(run(tuple(sys.argv[1:]) or ("e2e", "wire", "2g")), ensure_ascii=False, indent=1))
