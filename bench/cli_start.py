"""What one `daiban hub …`/`daiban node …` command costs as its own process (start-up included), and
how long a hub and a node server take from their start to a first answer: each test's real processes
and a clerk's PC pay it. With `--tree CHECKOUT` each run alternates with that checkout's, in one
sitting (docs/performance.md); medians of wall and CPU seconds (the child's user + system time).

    .venv/bin/python -m bench.cli_start [--rounds 5] [--tree /path/to/other/checkout]

Each tree runs as the tests run it (`python -m shared.cli`, its own .venv's Python when it has one),
in this environment as it is (PYTHONDONTWRITEBYTECODE included: then every project module is compiled
again in each process, as in the test suite on this machine).
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .tree import parse_args

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ("hub", ("figures", "--from", "2026-01-01", "--to", "2026-01-31")),
    ("hub", ("enroll-code", "--village", "桃源村")),
    ("hub", ("migrate",)),
    ("hub", ("verify-audit",)),
    ("node", ("centre",)),
    ("node", ("requeue",)),
)
SERVERS = ("hub", "node")


def python_of(tree: Path) -> str:
    own = tree / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def child_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def command(tree: Path, kind: str, data: Path, args: tuple[str, ...]) -> tuple[float, float]:
    """(wall, CPU) seconds of one command."""
    cpu, started = child_cpu(), time.perf_counter()
    subprocess.run(
        [python_of(tree), "-m", "shared.cli", kind, "--dir", str(data), *args],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started, child_cpu() - cpu


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server(tree: Path, kind: str, data: Path) -> tuple[float, float]:
    """(wall seconds to a first /healthz answer, CPU seconds of the process by then and its stop)."""
    port = free_port()
    extra = ["--no-sync"] if kind == "node" else []
    cpu, started = child_cpu(), time.perf_counter()
    proc = subprocess.Popen(
        [python_of(tree), "-m", "shared.cli", kind, "--dir", str(data), "run", "--port", str(port), *extra],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} server of {tree} exited with {proc.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.01)
        up = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(10)
    return up, child_cpu() - cpu


def prepared(tree: Path, scratch: Path) -> dict[str, Path]:
    """A hub and a node data directory, initialised by this tree's `init`."""
    dirs = {kind: Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=scratch)) for kind in ("hub", "node")}
    for kind, data in dirs.items():
        subprocess.run(
            [python_of(tree), "-m", "shared.cli", kind, "--dir", str(data), "init"],
            cwd=tree,
            check=True,
            capture_output=True,
        )
    return dirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = parse_args(ap)
    trees = [ROOT] + ([Path(args.tree).resolve()] if args.tree else [])
    figures: dict[tuple[str, Path], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="daiban-cli-start-") as scratch:
        dirs = {tree: prepared(tree, Path(scratch)) for tree in trees}
        for round_ in range(args.rounds):
            # Alternating: the other tree first in every other round, so neither always runs second.
            order = trees if round_ % 2 else trees[::-1]
            for (kind, cmd), tree in itertools.product(COMMANDS, order):
                figures.setdefault((f"{kind} {cmd[0]}", tree), []).append(command(tree, kind, dirs[tree][kind], cmd))
            for kind, tree in itertools.product(SERVERS, order):
                figures.setdefault((f"{kind} run → /healthz", tree), []).append(server(tree, kind, dirs[tree][kind]))
    print(
        f"{args.rounds} rounds; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; "
        f"load average at the end {os.getloadavg()[0]:.2f}"
    )
    names = list(dict.fromkeys(name for name, _ in figures))
    for name in names:
        line = f"{name:28}"
        medians = []
        for tree in trees:
            runs = figures[(name, tree)]
            wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            medians.append(cpu)
            label = "this tree" if tree == ROOT else str(tree)
            line += f"  {label}: {wall:.3f} s wall, {cpu:.3f} s CPU"
        if len(medians) == 2 and medians[0]:
            line += f"  (CPU, other tree / this one: {medians[1] / medians[0]:.2f}×)"
        print(line)


if __name__ == "__main__":
    main()
