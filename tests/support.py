"""Test support: PostgreSQL databases of our own, free ports, and real hub/node processes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests

PG_ADMIN = os.environ.get("DAIBAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent
DAIBAN = [sys.executable, "-m", "shared.cli"]
CHROMIUM = os.environ.get("DAIBAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require(flag: str, reason: str) -> None:
    """Skip on a laptop without the service; fail where CI demands it."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} (required: {flag}=1)")
    pytest.skip(reason)


def _pg_admin_conn():  # type: ignore[no-untyped-def]
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    conn.autocommit = True
    return conn


def pg_database() -> Iterator[str]:
    """Create a uniquely named PostgreSQL database, yield its URL, drop it after."""
    try:
        admin = _pg_admin_conn()
    except Exception as exc:  # noqa: BLE001 - any failure means no server here
        require("DAIBAN_REQUIRE_PG", f"PostgreSQL not available: {exc}")
        return
    name = f"daiban_t_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def chromium_path() -> str:
    """Debian's Chromium, or skip/fail as the environment demands."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        require("DAIBAN_REQUIRE_BROWSER", "Chromium not installed (apt-get install -y chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when nothing listens on the loopback port."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Poll url until it answers 200 or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up: {last}")


def daiban(*args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the daiban command as a real process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*DAIBAN, *args], capture_output=True, text=True, env=full_env, check=check, timeout=timeout, cwd=ROOT
    )


@dataclass
class Service:
    """A real hub or node process serving on loopback."""

    kind: str
    data_dir: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `daiban <kind> --dir DIR …` against this service's data."""
        return daiban(self.kind, "--dir", str(self.data_dir), *args, env=self.env, check=check)

    def start(self) -> "Service":
        """Start the server process and wait until /healthz answers."""
        log = open(self.data_dir / f"{self.kind}-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [*DAIBAN, self.kind, "--dir", str(self.data_dir), "run", "--port", str(self.port), *self.extra],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, cwd=ROOT,
        )
        wait_http(self.url + "/healthz", proc=self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (SIGKILL simulates a power cut)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def make_hub(tmp: Path, database_url: str | None = None) -> Service:
    """An initialised (not yet started) hub in tmp/hub."""
    env = {"DATABASE_URL": database_url} if database_url else {}
    hub = Service("hub", tmp / "hub", free_port(), env=env)
    hub.data_dir.mkdir(parents=True, exist_ok=True)
    hub.cli("init")
    return hub


def make_node(tmp: Path, name: str, hub: Service, village: str) -> tuple[Service, str]:
    """An initialised node enrolled with a running hub; returns (node, api token)."""
    node = Service("node", tmp / name, free_port())
    node.data_dir.mkdir(parents=True, exist_ok=True)
    out = node.cli("init").stdout
    token = re.search(r"API token: (\S+)", out).group(1)  # type: ignore[union-attr]
    code = hub.cli("enroll-code", "--village", village).stdout.strip()
    node.cli("enroll", "--hub", hub.url, "--code", code)
    return node, token
