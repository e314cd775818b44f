"""The suite's own rules: a skip fails the run unless allowed; PostgreSQL tests run without a server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests import support


def _pytest(probe: str, *options: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Not an xdist worker's variables either: the child is a run of its own (its own block of ports).
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAIBAN_ALLOW_SKIPS", "DAIBAN_REQUIRE_PG") and not k.startswith("PYTEST_XDIST_")
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *(options or ["-s"]),
            f"tests/fixtures/{probe}",
        ],
        capture_output=True,
        text=True,
        cwd=support.ROOT,
        env={**clean, **env},
        timeout=300,
    )


def test_a_skip_fails_the_run_and_says_why() -> None:
    done = _pytest("probe_skip.py")
    assert done.returncode == 1, done.stdout
    assert re.search(r"SKIPPED 1 test\(s\): probe tool not installed", done.stdout), done.stdout


def test_a_skip_in_a_worker_fails_a_parallel_run() -> None:
    """`make test` runs the suite in pytest-xdist workers: their skips reach the controller's verdict."""
    done = _pytest("probe_skip.py", "-n", "2")
    assert done.returncode == 1, done.stdout
    assert re.search(r"SKIPPED 1 test\(s\): probe tool not installed", done.stdout), done.stdout


def test_skips_pass_when_allowed() -> None:
    done = _pytest("probe_skip.py", DAIBAN_ALLOW_SKIPS="1")
    assert done.returncode == 0, done.stdout
    assert "SKIPPED 1 test(s): probe tool not installed (allowed" in done.stdout


def test_throwaway_postgres_where_nothing_answers() -> None:
    dead = support.free_port()
    done = _pytest("probe_pg.py", DAIBAN_TEST_PG=f"postgresql://postgres@127.0.0.1:{dead}/test", DAIBAN_REQUIRE_PG="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "started a throwaway cluster" in done.stderr, done.stderr
    assert "started a throwaway cluster" in done.stdout, "the run's summary should say so"
    found = re.search(r"CLUSTER (\d+) (\S+)", done.stdout)
    assert found, done.stdout
    # Stopped and removed at the end of the session.
    assert support.port_is_free(int(found.group(1)))
    assert not Path(found.group(2)).exists()
