"""Fixtures shared by the whole suite: hub and node databases, apps and keys."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import jinja2
import pytest
from hypothesis import settings

from tests import support

# Hypothesis's per-example deadline is a timing assertion: on a shared 2-core machine a first
# example that builds a msgspec decoder ran past 200 ms and failed a correct test. Speed is shown
# by bench/, never by tests.
settings.register_profile("daiban", deadline=None)
settings.load_profile("daiban")

# The suite starts hundreds of real processes (`daiban` servers and commands, scripts). Where the
# environment says not to write bytecode (PYTHONDONTWRITEBYTECODE, as on the shared machine), each of
# them compiled every project module it imports from source again: about a fifth of a hub server's
# start-up (docs/performance.md). They share a bytecode cache of this run instead, outside the work tree
# and removed at its end (pytest_unconfigure); worker processes, started after this, use it too.
_BYTECODE: Path | None = None
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None and "PYTHONPYCACHEPREFIX" not in os.environ:
    _BYTECODE = Path(tempfile.mkdtemp(prefix="daiban-test-pycache-"))
    os.environ["PYTHONPYCACHEPREFIX"] = str(_BYTECODE)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _BYTECODE is not None:
        shutil.rmtree(_BYTECODE, ignore_errors=True)


# The whole suite (`make test`, a bare `pytest`) runs in worker processes (pytest-xdist): most of its
# time is spent waiting on real hub and node processes and Chromium, which overlaps well even on two
# cores. A run of named files or directories stays in one process, as do -n 0 and --pdb;
# DAIBAN_TEST_WORKERS sets the number of workers.
WORKERS = int(os.environ.get("DAIBAN_TEST_WORKERS", "3"))


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config):
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if (
        whole_suite
        and getattr(config.option, "numprocesses", 0) is None  # no -n given (and xdist not disabled)
        and not hasattr(config, "workerinput")
        and not config.getoption("usepdb")
        and not config.getoption("collectonly")
    ):
        config.option.numprocesses = WORKERS
        config.option.dist = "loadgroup"
    return (yield)


# Modules whose tests share one module-scoped world and build on each other's steps: a parallel run
# sends each of them whole to one worker. (xdist's xdist_group mark cannot do it here: xdist 3.8 tags
# a grouped test by renaming it through an attribute pytest 9.2 no longer reads.)
ONE_WORKER_MODULES = frozenset({"tests/e2e/test_screens_browser.py", "tests/e2e/test_words_browser.py"})


def _modules_together(config: pytest.Config, log):
    from xdist.scheduler import LoadGroupScheduling

    class ModulesTogether(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else super()._split_scope(nodeid)

        def _reschedule(self, node) -> None:
            # A worker holds the test it runs and one more (xdist's own default is up to three): a long
            # test is not kept queued behind another on one worker while a second worker has run dry.
            if self.workqueue and not node.shutting_down and self._pending_of(self.assigned_work[node]) > 1:
                return
            super()._reschedule(node)

    return ModulesTogether(config, log)


# The modules whose tests held a worker longest (50-150 s each on CI: several real processes, PostgreSQL,
# Chromium), longest first, as the last whole run that was asked to write them measured them
# (tests/longest.txt, below). A worker of a parallel run starts them before all the others, so the run
# does not end with one of them running alone on one worker while the other workers idle. Only the
# order changes: a module missing there (or renamed) runs after these, as before.
LONGEST_FILE = Path(__file__).with_name("longest.txt")
LONGEST_KEPT = 30


def _longest_first() -> tuple[str, ...]:
    try:
        lines = LONGEST_FILE.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return ()
    return tuple(line.split()[0] for line in lines if line.strip() and not line.startswith("#"))


LONGEST_FIRST = _longest_first()


class _Durations:
    """`DAIBAN_WRITE_LONGEST=1` and the whole suite (as `make test` runs it): tests/longest.txt written
    again from this run, if it passed. A module is ranked by its longest test (setup, call and
    teardown together); a test's module goes first whole, so a module-scoped world is not split."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus != 0 or not self.seconds:
            return
        longest: dict[str, float] = {}
        for nodeid, seconds in self.seconds.items():
            module = nodeid.split("::", 1)[0] + "::"
            longest[module] = max(longest.get(module, 0.0), seconds)
        ranked = sorted(longest.items(), key=lambda kv: -kv[1])[:LONGEST_KEPT]
        LONGEST_FILE.write_text(
            "# The modules whose longest test took longest in a whole run (seconds: setup, call and teardown), longest\n"
            "# first; tests/conftest.py starts them first. Written by the whole suite run with DAIBAN_WRITE_LONGEST=1:\n"
            "#   DAIBAN_WRITE_LONGEST=1 make test\n"
            f"# This one: {len(self.seconds)} tests, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"
            + "".join(f"{module}  {seconds:.1f}\n" for module, seconds in ranked),
            encoding="utf-8",
        )


def _rank(nodeid: str) -> int:
    return next((i for i, prefix in enumerate(LONGEST_FIRST) if nodeid.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the workers of a parallel run (every worker sorts alike, as xdist requires): the longest first."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: _rank(item.nodeid))


class _WorkerNotes:
    """In the controller of a parallel run: how tests are dealt out, and what the workers said at the end."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        return _modules_together(config, log) if config.getvalue("dist") == "loadgroup" else None

    def pytest_testnodedown(self, node, error) -> None:
        note = getattr(node, "workeroutput", {}).get("cluster_note")
        if note and note not in self.notes:
            self.notes.append(note)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_WorkerNotes(), "daiban-worker-notes")
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if os.environ.get("DAIBAN_WRITE_LONGEST") == "1" and whole_suite and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Durations(), "daiban-durations")


@pytest.fixture(scope="session", autouse=True)
def _throwaway_postgres() -> Iterator[None]:
    """Stop the PostgreSQL cluster the suite started for itself (if it had to) when the session ends."""
    yield
    try:
        support.drop_hub_templates()
    finally:
        support.stop_pg_cluster()


def _skips(config: pytest.Config) -> list[pytest.TestReport]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return list(reporter.stats.get("skipped", [])) if reporter else []


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """One line saying what was skipped and why, so a skip is never silent."""
    workers = config.pluginmanager.get_plugin("daiban-worker-notes")
    for note in [support.cluster_note, *(workers.notes if workers else [])]:
        if note:
            terminalreporter.write_line(note)
    skips = _skips(config)
    if not skips:
        return
    reasons = sorted(
        {
            str(r.longrepr[2]).removeprefix("Skipped: ") if isinstance(r.longrepr, tuple) else str(r.longrepr)
            for r in skips
        }
    )
    allowed = os.environ.get("DAIBAN_ALLOW_SKIPS") == "1"
    terminalreporter.write_line(
        f"SKIPPED {len(skips)} test(s): {'; '.join(reasons)}"
        + (
            " (allowed: DAIBAN_ALLOW_SKIPS=1)"
            if allowed
            else " — failing the run; install what is missing (as root: make prereqs) or set DAIBAN_ALLOW_SKIPS=1"
        ),
        red=not allowed,
        yellow=allowed,
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test fails the run unless DAIBAN_ALLOW_SKIPS=1: the suite proves nothing it did not run.

    In a parallel run the controller's reporter has every worker's skips; a worker passes its notes on.
    """
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and support.cluster_note:
        workeroutput["cluster_note"] = support.cluster_note
    if exitstatus == 0 and _skips(session.config) and os.environ.get("DAIBAN_ALLOW_SKIPS") != "1":
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Staff and clerk passwords are hashed by werkzeug's scrypt at its production strength: 14 hashes took
# 3.6 s of 9.2 s in six SQLite tests of test_promises under a profiler at load 6, the biggest part of a
# hub test's setup (docs/performance.md, "The suite's time (session 14)"). In this process each
# (password) is hashed once and each (hash, password) checked once: every hash a test stores is still
# a real salted scrypt hash made by the code under test's first such call, and every check
# still runs werkzeug's real check on it, once; only a repeat of the same work is answered from memory.
# (Two accounts given the same password in one run thus share a salt; no test compares two hashes.)
# Real servers started by the suite hash as they always do.
@pytest.fixture(scope="session", autouse=True)
def _passwords_hashed_once() -> Iterator[None]:
    import functools

    import hub.staff
    import node.auth

    real = {
        (m, n): getattr(m, n) for m in (hub.staff, node.auth) for n in ("generate_password_hash", "check_password_hash")
    }
    made = functools.cache(real[hub.staff, "generate_password_hash"])
    checked = functools.cache(real[hub.staff, "check_password_hash"])
    for module in (hub.staff, node.auth):
        module.generate_password_hash = made  # type: ignore[attr-defined]
        module.check_password_hash = checked  # type: ignore[attr-defined]
    yield
    for (module, name), function in real.items():
        setattr(module, name, function)


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """Tests restore os.environ, as Flask's own suite does."""
    saved = dict(os.environ)
    os.environ.pop("WERKZEUG_RUN_MAIN", None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped after."""
    yield from support.pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each hub test runs on SQLite and on a real PostgreSQL.

    Empty for a test that migrates it itself; for a test with a hub_app (the same database), a copy
    of one migrated once per run.
    """
    if "hub_app" in request.fixturenames:
        yield from support.migrated_hub_database(request.param, tmp_path)
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    else:
        yield from support.pg_database()


@pytest.fixture
def hub_settings() -> dict[str, object]:
    """Extra hub configuration for one test module (override this fixture there)."""
    return {}


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's bytecode cache, in this process's memory: the apps of a run share their compiled templates.

    Each test's app has a Jinja environment of its own, which compiled every page it rendered from
    source again (44 compiles, 2.7 s under a profiler, in the 18 PostgreSQL tests of test_promises).
    Jinja keys a compiled template by its file and keeps it only while the source's checksum is the
    same; every app the fixtures make configures Jinja alike.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()

    def share(self, app: Any) -> Any:
        app.jinja_env.bytecode_cache = self
        return app


_compiled_templates = _CompiledTemplates()


@pytest.fixture
def hub_app(hub_db_url: str, tmp_path: Path, hub_settings: dict[str, object]):
    """A hub app on a migrated database (SQLite and PostgreSQL)."""
    from hub import create_app
    from hub.db import database
    from hub.schema import migrate

    app = _compiled_templates.share(
        create_app(
            {
                "TESTING": True,
                "DATA_DIR": str(tmp_path / "hubdata"),
                "DATABASE_URL": hub_db_url,
                "SECRET_KEY": "test",
                "WTF_CSRF_ENABLED": True,
                "WTF_CSRF_SSL_STRICT": False,
                **hub_settings,
            }
        )
    )
    with database.connection_context():
        migrate()
    database.connect(reuse_if_open=True)
    yield app
    if not database.is_closed():
        database.close()
    database.obj.close() if hasattr(database.obj, "close") else None


@pytest.fixture
def hub_client(hub_app):
    """Flask test client of the hub."""
    return hub_app.test_client()


@pytest.fixture
def node_app(tmp_path: Path):
    """A node app on a fresh SQLite file (not enrolled)."""
    from node import create_app
    from node.db import database

    app = _compiled_templates.share(
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "nodedata"), "SECRET_KEY": "test"})
    )
    database.connect(reuse_if_open=True)
    yield app
    if not database.is_closed():
        database.close()
