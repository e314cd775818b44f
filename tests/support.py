"""Test support: PostgreSQL databases of our own, free ports, and real hub/node processes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Generator, Iterator

import pytest
import requests

# The server the suite uses when it answers; where it does not, a throwaway cluster of our own.
PG_ADMIN = os.environ.get("DAIBAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_BINARIES = "/usr/lib/postgresql/*/bin"
ROOT = Path(__file__).resolve().parent.parent
DAIBAN = [sys.executable, "-m", "shared.cli"]
# Browser tests write screenshots under var/ (gitignored) so `make test` leaves the tree clean;
# `make screenshots` points this at docs/screenshots/ to refresh the documented ones on purpose.
SCREENSHOTS = ROOT / os.environ.get("DAIBAN_SCREENSHOT_DIR", "var/screenshots")
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


@dataclass
class PgCluster:
    """A PostgreSQL cluster of the suite's own: initdb into a temp dir, a free port, trust auth."""

    bindir: Path
    datadir: Path
    port: int
    runas: list[str]

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.runas, *args], check=True, capture_output=True, timeout=120)

    def pg_ctl(self, *args: str) -> None:
        """pg_ctl on this cluster's data directory."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir / "data"), *args)

    def serve(self, action: str, *, fsync: bool = False, settings: str = "") -> None:
        """pg_ctl start or restart on 127.0.0.1 at this port, with the suite's settings (fsync off unless asked)."""
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.datadir} -c fsync={'on' if fsync else 'off'} "
            f"-c max_connections=200 {settings}"
        ).strip()
        fast = ["-m", "fast"] if action == "restart" else []
        self.pg_ctl("-l", str(self.datadir / "log"), "-o", options, *fast, "-w", action)

    def start(self) -> "PgCluster":
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        # fsync off: a throwaway cluster need not survive a power cut, and the suite runs faster.
        self.serve("start")
        return self

    def stop(self) -> None:
        subprocess.run(
            [*self.runas, str(self.bindir / "pg_ctl"), "-D", str(self.datadir / "data"), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.datadir, ignore_errors=True)


_cluster: PgCluster | None = None
_admin_answered = False  # PG_ADMIN answered: this process uses it for the rest of the run
_no_cluster: str | None = None  # why a throwaway cluster could not start (tried once per process)
cluster_note: str | None = None  # said once at the end of the run when the suite used its own cluster


def pg_bindir() -> Path | None:
    """The newest Debian PostgreSQL server binaries (package postgresql), if installed."""
    found = sorted(
        Path("/").glob(PG_BINARIES.lstrip("/")), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    return next((b for b in reversed(found) if (b / "initdb").exists()), None)


def start_pg_cluster() -> PgCluster:
    """Start a throwaway cluster. initdb refuses to run as root, so root runs it as `postgres`."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not installed (apt-get install -y postgresql)")
    import tempfile

    datadir = Path(tempfile.mkdtemp(prefix="daiban-pg-"))
    runas: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = "postgres" if _has_user("postgres") else "nobody"
        shutil.chown(datadir, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        runas = ["runuser", "-u", user, "--"]
    return PgCluster(bindir, datadir, free_port(), runas).start()


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def stop_pg_cluster() -> None:
    """Stop the throwaway cluster if this process started one."""
    global _cluster
    try:
        finish_drops()
    finally:  # a drop that failed must not leave the cluster running
        if _cluster is not None:
            _cluster.stop()
            _cluster = None


def pg_admin_url() -> str:
    """The admin URL: PG_ADMIN when it answers, else a throwaway cluster started once per process.

    Decided once: a process that switched servers mid-run would lose its migrated template database.
    """
    global _cluster, _no_cluster, cluster_note, _admin_answered
    if _admin_answered:
        return PG_ADMIN
    if _cluster is not None:
        return _cluster.admin_url
    if _no_cluster is not None:
        raise RuntimeError(_no_cluster)
    try:
        _connect(PG_ADMIN, ADMIN_WAIT).close()  # a full server is there all the same: wait for a slot
        _admin_answered = True
        return PG_ADMIN
    except Exception as exc:  # noqa: BLE001 - any failure means no usable server there
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        _cluster = start_pg_cluster()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _no_cluster = (
            f"{PG_ADMIN} unusable ({reason}) and no throwaway cluster: {exc} {detail.decode(errors='replace')[-300:]}"
        )
        raise RuntimeError(_no_cluster) from exc
    import atexit

    atexit.register(stop_pg_cluster)
    cluster_note = f"PostgreSQL at {PG_ADMIN} unusable ({reason}); started a throwaway cluster on port {_cluster.port}"
    sys.stderr.write(f"\n{cluster_note}\n")
    return _cluster.admin_url


def _connect(url: str, wait_for_a_slot: float = 0) -> Any:
    """An autocommit connection; a server out of connection slots is asked again until wait_for_a_slot passes."""
    import psycopg

    deadline = time.monotonic() + wait_for_a_slot
    while True:
        try:
            return psycopg.connect(url, connect_timeout=3, autocommit=True)
        except psycopg.OperationalError as exc:
            if "too many clients" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# A shared server (5432 on a machine where several people run suites) can be out of connection slots
# for a while; creating and dropping the suite's databases waits that long for one.
ADMIN_WAIT = 60.0


def pg_database(template: str | None = None) -> Generator[str, None, None]:
    """Create a uniquely named PostgreSQL database (a copy of `template` if named), yield its URL, drop it after."""
    try:
        admin_url = pg_admin_url()
        admin = _connect(admin_url, ADMIN_WAIT)
    except Exception as exc:  # noqa: BLE001 - any failure means no server here
        require("DAIBAN_REQUIRE_PG", f"PostgreSQL not available: {exc}")
        return
    name = f"daiban_t_{uuid.uuid4().hex[:12]}"
    # No admin session is held while the database is in use: the server's connections are shared by
    # the suite's parallel workers (and, on a shared machine, by other people's runs).
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        admin.close()
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        # Dropped in the background: on a server that syncs to disk a DROP takes a second or two, which
        # the next test need not wait for. finish_drops() waits for them all at the end of the run.
        _drops.append(_dropper().submit(_drop, admin_url, name))


def _drop(admin_url: str, name: str) -> None:
    admin = _connect(admin_url, ADMIN_WAIT)
    try:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.close()


_drop_pool: Any = None
DROPPERS = 4
_drops: list[Any] = []


def _dropper() -> Any:
    global _drop_pool
    if _drop_pool is None:
        from concurrent.futures import ThreadPoolExecutor

        # Several at once: each DROP DATABASE waits for a checkpoint, and drops running together share
        # one (three dropped together took 1.7 s, one after the other 3.9-5.5 s), so the backlog a
        # worker waits for at the end of its run is a few seconds instead of half a minute.
        _drop_pool = ThreadPoolExecutor(max_workers=DROPPERS, thread_name_prefix="pg-drop")
    return _drop_pool


def finish_drops() -> None:
    """Wait for the databases being dropped in the background; a failed drop fails the run here."""
    while _drops:
        _drops.pop(0).result(timeout=120)


# Migrated hub databases, made once per run and copied for each test that wants a hub app: running
# every migration step for each of some 440 hub tests cost minutes (1-2 s each on PostgreSQL).
# Migrating from empty is still proven, by tests/deploy/test_migrations.py on hub_db_url.
_hub_templates: dict[str, str] = {}


def migrate_hub(url: str) -> tuple[int, int]:
    """Bind the hub's models to the database at url and migrate it: (version before, version after).

    The connection is closed again (a template database must have no sessions; SQLite's WAL is
    checkpointed into the file).
    """
    from hub.db import bind, database, open_database
    from hub.schema import migrate

    bind(open_database(url))
    try:
        with database.connection_context():
            return migrate()
    finally:
        if not database.is_closed():
            database.close()


def migrated_hub_database(kind: str, directory: Path) -> Iterator[str]:
    """A hub database already at the current schema: a copy of one migrated once per run.

    kind is "sqlite" (a file in `directory`) or "postgresql" (a database of its own, dropped after).
    """
    if kind == "sqlite":
        if "sqlite" not in _hub_templates:
            import atexit
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="daiban-hub-template-"))
            atexit.register(shutil.rmtree, folder, True)
            migrate_hub(f"sqlite:///{folder / 'hub.sqlite3'}")  # closed after: WAL checkpointed into the file
            _hub_templates["sqlite"] = str(folder / "hub.sqlite3")
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_hub_templates["sqlite"], directory / "hub.sqlite3")
        yield f"sqlite:///{directory / 'hub.sqlite3'}"
        return
    if "postgresql" not in _hub_templates:
        maker = pg_database()
        url = next(maker, None)
        if url is None:
            return  # skipped (or failed) by pg_database: no server
        migrate_hub(url)  # the connection is closed again: a template must have no sessions
        _hub_templates["postgresql"] = url.rsplit("/", 1)[1]
        _template_makers.append(maker)
    yield from pg_database(template=_hub_templates["postgresql"])


_template_makers: list[Generator[str, None, None]] = []


def drop_hub_templates() -> None:
    """Drop the migrated template databases (end of the run)."""
    finish_drops()  # copies of a template first: a template with a copy being made cannot be dropped
    while _template_makers:
        maker = _template_makers.pop()
        maker.close()
    _hub_templates.clear()
    finish_drops()


def chromium_path() -> str:
    """Debian's Chromium, or skip/fail as the environment demands."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        require("DAIBAN_REQUIRE_BROWSER", "Chromium not installed (apt-get install -y chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


# Ports for the servers tests start. The suite runs in several pytest-xdist workers at once, and a port
# handed out stays unbound until the server it is for has started (seconds later): bind(0) could hand
# the same port to another worker meanwhile. So each worker draws from a block of its own, below the
# kernel's ephemeral range (32768+, where bind(0) and outgoing connections land), one port after the
# next; a process that is no worker (a serial run, a pytest run inside a test) has block 0 and starts
# at an offset set by its pid.
PORT_BASE = 20000
PORT_BLOCK = 1500
PORT_BLOCKS = 8  # 20000-31999
_port_offset: int | None = None


def _port_block() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... in an xdist worker
    number = worker.removeprefix("gw")
    return (int(number) + 1) % PORT_BLOCKS if worker.startswith("gw") and number.isdigit() else 0


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port free on loopback right now, and not handed out before by this process."""
    global _port_offset
    if _port_offset is None:
        _port_offset = os.getpid() % PORT_BLOCK
    start = PORT_BASE + _port_block() * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = start + _port_offset
        _port_offset = (_port_offset + 1) % PORT_BLOCK
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORT_BLOCK - 1}")


def free_ports(count: int) -> list[int]:
    """`count` consecutive free ports (deploy/demo.py serves a hub and its nodes on port, port+1, ...)."""
    for _ in range(PORT_BLOCK):
        ports = [free_port() for _ in range(count)]
        if ports == list(range(ports[0], ports[0] + count)):
            return ports
    raise RuntimeError(f"no {count} consecutive free ports")


def port_is_free(port: int) -> bool:
    """True when nothing listens on the loopback port."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def poll(
    condition: Callable[[], Any], timeout: float = 60.0, every: float = 0.2, what: str = "condition not reached"
) -> None:
    """Until condition() is true, checked every `every` seconds; AssertionError(what) past the deadline.

    AssertionError rather than TimeoutError: a TimeoutError is an OSError, which code under test
    (a node's transport, say) may take for a network failure and retry."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(every)


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


def daiban(
    *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess:
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
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=ROOT,
        )
        log.close()  # the child holds its own descriptor
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


# Browser drills: a hub with staff and a village node with its clerk, both real processes, and Debian's
# Chromium driven by Playwright. Each drill used to repeat this set-up (and the login) in its own words.


@dataclass(frozen=True)
class Staff:
    """A hub user made with `daiban hub add-user`: window staff (windows) or a supervisor/admin (role)."""

    username: str
    name: str
    windows: str = ""
    role: str = ""

    def args(self, password: str) -> list[str]:
        return [
            "add-user",
            self.username,
            "--name",
            self.name,
            *(["--windows", self.windows] if self.windows else []),
            *(["--role", self.role] if self.role else []),
            "--password",
            password,
        ]


@dataclass
class Village:
    """A running hub and a running node enrolled with it; the node syncs only when a test says so."""

    hub: Service
    node: Service
    token: str  # the node's API token

    def capture(self, item: str, **kw: Any) -> str:
        """Capture a request through the node's API (tests.factories.capture's form); its receipt code."""
        from tests.factories import capture

        return self.submit(capture(item, **kw))

    def submit(self, form: dict[str, Any]) -> str:
        """Capture this form through the node's API; its receipt code."""
        resp = requests.post(
            f"{self.node.url}/api/v1/requests",
            json=form,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["receipt_code"])

    def state(self, code: str) -> str:
        """The request's state on the node, through its API."""
        resp = requests.get(
            f"{self.node.url}/api/v1/requests/{code}", headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )
        return str(resp.json()["state"])


@contextmanager
def village(
    tmp: Path,
    staff: list[Staff],
    password: str,
    *,
    clerk_password: str | None = None,
    hub_env: dict[str, str] | None = None,
    database_url: str | None = None,
) -> Iterator[Village]:
    """Hub (with `staff`, all on `password`) and node 桃源村 (with clerk li 李文书 if clerk_password), both stopped after."""
    hub = make_hub(tmp, database_url)
    for person in staff:
        hub.cli(*person.args(password))
    hub.env.update(hub_env or {})
    hub.start()
    node: Service | None = None
    try:
        node, token = make_node(tmp, "n1", hub, "桃源村")
        if clerk_password:
            node.cli("add-clerk", "li", "--name", "李文书", "--password", clerk_password)
        node.extra = ["--no-sync"]  # the test syncs one round at a time
        node.start()
        yield Village(hub, node, token)
    finally:
        if node is not None:
            node.stop()
        hub.stop()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, launched by Playwright (a Browser); the screenshots' folder made."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler for a stand-in server that logs nothing (the test says what went wrong)."""

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stand-in HTTP server on a free local port, in a thread, for the duration: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def watch_errors(page: Any, errors: list[str], expected: Callable[[Any], bool] | None = None) -> Any:
    """Note in `errors` what goes wrong in a page: each response of 400 or more and each console error; returns the page.

    Chromium's own favicon probe and the responses `expected` accepts (a refusal the test asks
    for) are not noted. A failed response is also logged to the console ("Failed to load resource:
    the server responded with a status of …"): the response is noted instead, so an expected
    refusal is not noted twice. A console error of any other kind (a CSP block, a script error, a
    resource that never answered) is noted with where it happened.
    """

    def response(r: Any) -> None:
        if r.status >= 400 and not r.url.endswith("/favicon.ico") and not (expected and expected(r)):
            errors.append(f"{r.status} {r.url}")

    def console(m: Any) -> None:
        if m.type == "error" and "the server responded with a status of" not in m.text:
            errors.append(f"{m.text} {m.location.get('url', '')}")

    page.on("response", response)
    page.on("console", console)
    return page


def csrf_of(html: bytes | str) -> str:
    """The CSRF token of the first form on a page (the hub's and the node's forms carry it alike)."""
    text = html.decode() if isinstance(html, bytes) else html
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found, "page has no CSRF token"
    return found.group(1)


def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Log in through the login form (the hub's and the node's have the same fields)."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
