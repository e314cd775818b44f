"""The hub's database: one proxy, chosen at runtime (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import peewee
from playhouse.db_url import connect

log = logging.getLogger("daiban.hub.db")

database = peewee.DatabaseProxy()

# libpq settings a hub needs when its server can vanish: a dead host is given up quickly so
# the next host of a multi-host URL is tried, and a silently dropped link is noticed.
PG_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    # A kept connection's next query to a primary that died silently would wait on TCP
    # retransmission (minutes): unacknowledged data for 15 s ends the connection instead.
    "tcp_user_timeout": "15000",
}
# A connection kept by a server thread idle longer than this is closed, not probed.
KEEP_IDLE_S = 60.0
TIMELINE_KEY = "pg_timeline"

# The page a new SQLite database is made with (SQLite's default is 4,096). A batch's rows go into
# indexes whose keys arrive in random order (request ids, receipt codes, event ids): larger pages
# hold more of each index per page, so a growing database's batch dirties fewer pages
# (docs/performance.md, "Hub ingest on SQLite: what the database itself does per event").
SQLITE_PAGE_SIZE = 16384
SQLITE_PRAGMAS = {
    # First, before journal_mode writes the new file's header. A database made before keeps its own
    # page size (in WAL mode SQLite changes it for nothing, not even VACUUM): this is a no-op there.
    "page_size": SQLITE_PAGE_SIZE,
    "journal_mode": "wal",
    # FULL: a commit the hub acknowledged survives a power cut.
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 30000,
}


# How long a writer waits for its turn before it leaves the wait to SQLite (which then gives up with
# "database is locked" after its own busy_timeout, as it always did), and how often it looks meanwhile.
WRITER_WAIT_S = 30.0
WRITER_POLL_S = 0.002


class _WriterTurn:
    """Whose turn it is to open a write transaction on one SQLite file, over the hub's processes.

    SQLite's busy handler waits for its write lock by sleeping 1, 2, 5, 10, 15, 20, 25, 25, 25, 50,
    50, then 100 ms at a time, never woken when the lock is freed: with three villages syncing at
    once a waiting batch slept on while the lock sat free, and an unlucky one slept in 100 ms steps
    while the others took turns (docs/performance.md, "Hub ingest on SQLite: writers take turns
    without sleeping"). Here a writer first takes a turn: threads of one process queue on a lock
    that hands over at once; the process then holds a record lock on ``<database>-writer``, which
    other processes look for every ``WRITER_POLL_S``. The kernel drops that lock with a dead process.
    Holding the turn makes BEGIN IMMEDIATE find SQLite's lock free; SQLite's lock stays what keeps
    writers apart (a writer that is not the hub's still waits in SQLite's busy handler).
    """

    def __init__(self, path: str):
        # Never closed: closing any descriptor of the file drops every record lock the process holds on it.
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.threads = threading.Lock()

    def take(self) -> bool:
        """Wait for the turn (at most WRITER_WAIT_S); False when it did not come (SQLite's wait follows)."""
        deadline = time.monotonic() + WRITER_WAIT_S
        if not self.threads.acquire(timeout=WRITER_WAIT_S):
            return False
        while True:
            try:
                fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:  # another process's turn
                if time.monotonic() >= deadline:
                    self.threads.release()
                    return False
                time.sleep(WRITER_POLL_S)

    def give(self) -> None:
        """End this thread's turn."""
        fcntl.lockf(self.fd, fcntl.LOCK_UN)
        self.threads.release()


_turns: dict[tuple[int, str], _WriterTurn] = {}
_turns_lock = threading.Lock()


def _writer_turn(path: str) -> _WriterTurn:
    """This process's turn keeper for a database file (a forked process opens its own: locks are not inherited)."""
    key = (os.getpid(), os.path.realpath(path))
    with _turns_lock:
        found = _turns.get(key)
        if found is None:
            found = _turns[key] = _WriterTurn(key[1] + "-writer")
    return found


class HubSqliteDatabase(peewee.SqliteDatabase):
    """The hub's SQLite: each write transaction first takes its turn (``_WriterTurn``), then BEGIN IMMEDIATE.

    A request's connection is the one the last finished request gave back (`checkout`, `checkin`,
    called by hub/web.py), not one per server thread. SQLite drops a connection's whole page cache
    when it finds the database written by another connection since its last read; a server hands
    each request to its next idle thread in turn (waitress and gunicorn's threads alike), so with a
    connection per thread every batch began on a cold cache and read its pages again (~1 MB per batch
    of 200; docs/performance.md, "Hub ingest on SQLite: the last request's connection (session 15)").
    """

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._turn = None if path == ":memory:" else _writer_turn(path)
        self._holding = threading.local()  # whether this thread's transaction holds the turn
        self._kept_lock = threading.Lock()
        self._idle: list[Any] = []  # connections given back between requests, the last given back last
        _KEEPERS.add(self)

    def _connect(self) -> Any:
        with self._kept_lock:
            if self._idle:
                return self._idle.pop()  # opened by this class: its pragmas are set
        return super()._connect()

    def checkout(self) -> None:
        """This thread's connection for a request: the last one a request gave back, else a new one."""
        self.connect(reuse_if_open=True)

    def checkin(self, failed: bool) -> None:
        """After a request: give this thread's connection back for the next request, if it is idle.

        A connection inside a transaction stays this thread's, as every connection did before, and
        so does one to a private ":memory:" database. `failed` changes nothing: an idle SQLite
        connection is sound (PostgreSQL's `checkin` closes a failed request's).
        """
        if self.is_closed() or self._turn is None:
            return
        conn = self._state.conn
        if self.in_transaction() or conn.in_transaction:
            return
        with self._lock:  # as peewee's close() leaves this thread without a connection
            self._state.reset()
        with self._kept_lock:
            self._idle.append(conn)

    def close(self) -> bool:
        """This thread's connection closed, and every one given back with it: whoever closes the
        database (a test, a disk swapped for last night's backup) leaves no connection to the old file."""
        self._close_idle()
        return bool(super().close())

    def close_kept(self) -> None:
        """Close every connection given back and not taken again, and this thread's unless it is in a
        transaction (the app is being replaced or the process ends)."""
        if self.in_transaction():
            self._close_idle()
        else:
            self.close()

    def _close_idle(self) -> None:
        with self._kept_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)

    def begin(self, lock_type: str | None = None) -> None:
        held = self._turn is not None and self._turn.take()
        self._holding.turn = held
        try:
            super().begin(lock_type)
        except BaseException:
            self._end_turn()
            raise

    def commit(self) -> Any:
        try:
            return super().commit()
        finally:
            if not self.is_closed() and not self._state.conn.in_transaction:
                self._end_turn()

    def rollback(self) -> Any:
        try:
            return super().rollback()
        finally:
            self._end_turn()

    def _close(self, conn: Any) -> None:
        try:
            super()._close(conn)  # rolls back an open transaction
        finally:
            self._end_turn()

    def _end_turn(self) -> None:
        if getattr(self._holding, "turn", False):
            self._holding.turn = False
            assert self._turn is not None
            self._turn.give()


class HubPostgresDatabase(peewee.PostgresqlDatabase):
    """PostgreSQL reached through a libpq URL, which may name a primary and its standbys.

    libpq itself picks the host (`target_session_attrs=read-write` skips a standby), and a
    server thread's kept connection is checked before each request (`checkout`), so after the
    primary dies each worker's next request lands on the promoted standby. Every new connection reads the server's WAL timeline: a higher one
    than the database last recorded means a standby was promoted and may lack the tail the
    old primary had acknowledged, so the hub draws a new epoch (hub/restores.py) at once,
    as `daiban hub new-epoch` would: nodes then re-check where the hub stands, re-send what
    it lost and rebuild their copy of its downstream log (docs/protocol.md).
    """

    # Each server thread keeps its connection between requests (`checkout`/`checkin`, called by
    # hub/web.py) unless the app turns it off: a new backend costs a connect and runs every
    # statement colder (docs/performance.md). A kept connection is probed before each request
    # with the same one-round-trip query the timeline check runs, and dropped when it fails, when
    # its server is now a standby or when it idled past `max_idle_s`: the next connection goes
    # through libpq's host list, so a promoted standby is still found on the next request.
    keep_connections = True
    max_idle_s = KEEP_IDLE_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept_lock = threading.Lock()
        # Connections kept between requests: connection -> (its thread, idle since), monotonic.
        self._idle: dict[Any, tuple[threading.Thread, float]] = {}
        # This thread's BEGIN not sent yet (`begin`): it goes with the transaction's first statement.
        self._begin = threading.local()
        _KEEPERS.add(self)

    # Every statement is a round trip in which the hub waits for its backend to be scheduled, run
    # and answer; on two shared cores that wait, not the backend's CPU, was most of a batch's time on
    # PostgreSQL (docs/performance.md, "Hub ingest on PostgreSQL: round trips"). A transaction's
    # BEGIN is therefore not sent alone: it is held until the transaction's first statement and sent
    # with it in one pipeline (one round trip). A transaction that runs no statement sends nothing.

    def begin(self, isolation_level: Any = None) -> None:
        if self.is_closed():
            super().begin(isolation_level)  # connects (or refuses) as peewee does
            return
        level = self._isolation_level if isolation_level is None else isolation_level
        self._begin.sql = (
            f"BEGIN TRANSACTION ISOLATION LEVEL {self._adapter.isolation_level_str(level)}" if level else "BEGIN"
        )

    def _take_begin(self) -> str | None:
        sql: str | None = getattr(self._begin, "sql", None)
        self._begin.sql = None
        return sql

    def cursor(self, named_cursor: Any = None) -> Any:
        # A cursor for the caller's own statements (COPY, executemany): the held BEGIN goes first.
        cursor = super().cursor(named_cursor)
        begin = self._take_begin()
        if begin is not None:
            with peewee.__exception_wrapper__:
                cursor.execute(begin)
        return cursor

    def connection(self) -> Any:
        conn = super().connection()
        begin = self._take_begin()
        if begin is not None:
            with peewee.__exception_wrapper__:
                conn.execute(begin)
        return conn

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        begin = self._take_begin()
        if begin is None:
            return super().execute_sql(sql, params)
        conn = self._state.conn
        with peewee.__exception_wrapper__:
            if conn.pgconn.pipeline_status:  # inside `pipelined`: queued, sent with the rest
                conn.execute(begin)
                return super().execute_sql(sql, params)
            with conn.pipeline():
                conn.execute(begin)
                cursor = super().execute_sql(sql, params)
        return cursor

    def commit(self) -> Any:
        if self._take_begin() is not None:
            return None  # nothing ran: nothing to commit
        return super().commit()

    def rollback(self) -> Any:
        if self._take_begin() is not None:
            return None
        return super().rollback()

    def _close(self, conn: Any) -> None:
        self._take_begin()
        super()._close(conn)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """Statements in the block are sent without waiting for each answer (psycopg's pipeline mode):
        a statement whose rows are read waits for the answers up to it, the end of the block for the
        rest, and the first error is raised there (as peewee's exception). Not for COPY. After an error
        the statements queued behind it are skipped, a ROLLBACK TO SAVEPOINT too: use it where an error
        ends the transaction (the batch's, the sync counter's), not inside one that goes on after it."""
        conn = super().connection()
        if conn.pgconn.pipeline_status:
            yield
            return
        try:
            with peewee.__exception_wrapper__, conn.pipeline():
                begin = self._take_begin()
                if begin is not None:
                    conn.execute(begin)
                yield
        except peewee.DatabaseError:
            # A failed statement of the block left its transaction failed; outside any of peewee's
            # transactions (the block ran its own), end it here as an aborted atomic() would.
            if not self.in_transaction() and conn.info.transaction_status == TRANSACTION_INERROR:
                conn.rollback()
            raise

    def _initialize_connection(self, conn: Any) -> None:
        super()._initialize_connection(conn)
        conn.adapters.register_dumper(list, str_list_dumper())
        self._see_timeline(server_timeline(conn))

    def _see_timeline(self, timeline: int | None) -> None:
        if timeline is not None and timeline != getattr(self, "_timeline_seen", None):
            self._note_timeline(timeline)
            self._timeline_seen = timeline

    def checkout(self) -> None:
        """This thread's connection for a request: the kept one if it still serves the primary, else a new one."""
        if not self.keep_connections:
            self.connect(reuse_if_open=True)
            return
        if not self.is_closed():
            conn = self._state.conn
            with self._kept_lock:
                entry = self._idle.pop(conn, None)
            stale = entry is not None and time.monotonic() - entry[1] > self.max_idle_s
            if stale or conn.closed or not self._still_primary(conn):
                self._drop()
        self.connect(reuse_if_open=True)

    def _still_primary(self, conn: Any) -> bool:
        try:
            in_recovery, timeline = server_state(conn)
        except Exception:  # any failure: this connection is not used again
            log.info("kept PostgreSQL connection failed its check; reconnecting", exc_info=True)
            return False
        if in_recovery:
            log.warning("kept PostgreSQL connection's server is now a standby; reconnecting")
            return False
        self._see_timeline(timeline)
        return True

    def _drop(self) -> None:
        """Close this thread's connection, whatever state it is in."""
        try:
            self.close()
        except Exception:  # a dead or broken connection: forget it all the same
            log.debug("closing a dropped connection failed", exc_info=True)
            conn = self._state.conn
            self._state.reset()
            if conn is not None:
                _close_quietly(conn)

    def checkin(self, failed: bool) -> None:
        """After a request: keep this thread's connection if it is idle and sound, else close it."""
        if self.is_closed():
            return
        conn = self._state.conn
        if (
            failed
            or not self.keep_connections
            or self.in_transaction()
            or conn.closed
            or conn.broken
            or conn.info.transaction_status != TRANSACTION_IDLE
        ):
            self._drop()
        else:
            with self._kept_lock:
                self._idle[conn] = (threading.current_thread(), time.monotonic())
        self._sweep()

    def _sweep(self) -> None:
        """Close kept connections idle past the bound, or whose thread has ended (its pool shrank)."""
        now = time.monotonic()
        # Closed under the lock: the owner's `checkout` waits for it there, then finds it closed.
        with self._kept_lock:
            gone = [c for c, (t, since) in self._idle.items() if now - since > self.max_idle_s or not t.is_alive()]
            for conn in gone:
                del self._idle[conn]
                _close_quietly(conn)

    def close_kept(self) -> None:
        """Close every connection kept idle by any thread (the app is being replaced or the process ends)."""
        with self._kept_lock:
            for conn in self._idle:
                _close_quietly(conn)
            self._idle = {}
        if not self.is_closed() and not self.in_transaction():
            self._drop()

    def _note_timeline(self, timeline: int) -> None:
        # A plain read first: in the steady state a new connection writes nothing (with a
        # synchronous standby every write commit waits for it).
        row = self.execute_sql("SELECT value FROM setting WHERE key = %s", (TIMELINE_KEY,)).fetchone()
        if row is None:
            self.execute_sql(
                "INSERT INTO setting (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                (TIMELINE_KEY, str(timeline)),
            )
            return
        stored = int(row[0])
        if stored >= timeline:
            return
        with self.atomic():
            # Conditional, so of all the workers that see the new timeline at once one acts on it.
            moved = self.execute_sql(
                "UPDATE setting SET value = %s WHERE key = %s AND value = %s",
                (str(timeline), TIMELINE_KEY, str(stored)),
            ).rowcount
            if not moved:
                return
            log.warning(
                "PostgreSQL timeline %s -> %s: a standby was promoted; its tail may be missing", stored, timeline
            )
            try:  # restores imports the models, which import this module
                from .restores import new_epoch
            except ImportError:  # until the restore branch (epochs) is merged: say what to run
                log.error("standby promoted: run `daiban hub new-epoch` so nodes re-check and re-send")
                return
            new_epoch("promoted", "system", {"timeline_from": stored, "timeline_to": timeline})


TRANSACTION_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
TRANSACTION_INERROR = 3  # psycopg.pq.TransactionStatus.INERROR
_KEEPERS: weakref.WeakSet[HubPostgresDatabase | HubSqliteDatabase] = weakref.WeakSet()
# The databases whose connections are kept between requests (`checkout`, `checkin`, `close_kept`).
KEEPS_CONNECTIONS = (HubPostgresDatabase, HubSqliteDatabase)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # closing a connection the server already ended
        log.debug("closing a kept connection failed", exc_info=True)


@atexit.register
def _close_all_kept() -> None:
    for db in list(_KEEPERS):
        db.close_kept()


def server_state(conn: Any) -> tuple[bool, int | None]:
    """Whether the server is in recovery (a standby), and the WAL timeline it writes on (promotion
    raises it; None on a standby or before init): one round trip, raising what the query raises."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN NULL ELSE "
            "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END, "
            "to_regclass('setting') IS NOT NULL"
        )
        in_recovery, hexline, has_settings = cur.fetchone()
    return bool(in_recovery), int(hexline, 16) if hexline and has_settings else None


@functools.cache
def str_list_dumper() -> type:
    """psycopg's dumper of a list as an array's text, with a list of plain str written in one join.

    The hub binds its look-ups' values as arrays (`= ANY(%s)`: one statement whatever the count); a
    batch's four of ~200 ids, request ids, receipt codes and ID numbers took psycopg's ListDumper
    ~1.5 ms of the hub's CPU (a Python loop, a regular expression per value). Every value of such a
    list is written quoted, which the server reads as the same text: '{"a","b"}' is '{a,b}'. A list
    with anything else (a None, a str subclass, another type, a value with a quote, a backslash or a
    NUL) is dumped by psycopg's own code, as before.
    """
    from psycopg.types.array import ListDumper

    class StrListDumper(ListDumper):
        def dump(self, obj: list[Any]) -> Any:
            if (
                obj
                and self.sub_dumper is not None
                and getattr(self.sub_dumper, "cls", None) is str
                and set(map(type, obj)) == _STR_ONLY
                and self.connection is not None
                and self.connection.info.encoding == "utf-8"
            ):
                joined = "".join(obj)
                if '"' not in joined and "\\" not in joined and "\0" not in joined:
                    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate: psycopg's own error below
                        return b'{"' + '","'.join(obj).encode() + b'"}'
            return super().dump(obj)

    return StrListDumper


_STR_ONLY = {str}


def server_timeline(conn: Any) -> int | None:
    """The WAL timeline the server writes on (promotion raises it); None on a standby or before init."""
    try:
        return server_state(conn)[1]
    except Exception:  # an old server or a role without the function: no check, serve anyway
        log.debug("timeline check unavailable", exc_info=True)
        return None


def postgres_dsn(url: str) -> str:
    """The URL with the hub's libpq defaults added where the operator did not set them.

    Handed to libpq as it is, so multi-host URLs (postgresql://h1:5432,h2:5432/db?...) work;
    peewee's own URL parser reads one host and port only.
    """
    parts = urlsplit(url)
    given = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = "&".join(f"{k}={v}" for k, v in PG_DEFAULTS.items() if k not in given)
    if not extra:
        return url
    return url + ("&" if parts.query else "?") + extra


# Schemes that name PostgreSQL: libpq's two, and SQLAlchemy's driver-qualified forms an operator may
# paste from another application's settings (the driver part is ours to choose: psycopg 3).
PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")


def postgres_url(url: str) -> str | None:
    """The URL as libpq reads it (postgresql://…) when it names PostgreSQL, else None."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.lower() in PG_SCHEMES else None


def open_database(url: str) -> peewee.Database:
    """A database for a URL: sqlite:///path, or postgresql://user@host[:port][,host2[:port]…]/db[?…]."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else ":memory:"
        return HubSqliteDatabase(
            path, pragmas=SQLITE_PRAGMAS, timeout=30, lock_type="IMMEDIATE", check_same_thread=False
        )
    pg = postgres_url(url)
    if pg is not None:
        # psycopg 3 even where psycopg2 is also installed (peewee prefers psycopg2 unless told).
        return HubPostgresDatabase(postgres_dsn(pg), prefer_psycopg3=True)
    return connect(url)


def bind(db: peewee.Database) -> None:
    """Point the models at a database, letting go of this thread's connection to the one before.

    An app made twice in one process (a CLI command run from a test) would otherwise leave that
    connection to the garbage collector, which psycopg 3 reports as a leak.
    """
    old = database.obj
    if isinstance(old, KEEPS_CONNECTIONS) and old is not db:
        old.close_kept()
    elif old is not None and old is not db and not old.is_closed() and not old.in_transaction():
        old.close()
    database.initialize(db)


def pipelined() -> contextlib.AbstractContextManager[None]:
    """The block's statements sent without waiting for each answer on PostgreSQL (HubPostgresDatabase.pipelined);
    as they are elsewhere (SQLite has no round trips)."""
    db = database.obj
    return db.pipelined() if isinstance(db, HubPostgresDatabase) else contextlib.nullcontext()


def is_postgres() -> bool:
    """True when the hub runs on PostgreSQL (row locks instead of SQLite's write lock)."""
    return isinstance(database.obj, peewee.PostgresqlDatabase)


_JSON_DECODER = msgspec.json.Decoder()
# The one way a JSON column's text is written: the standard library's JSON, sorted keys, ", " and ": ",
# not ASCII-escaped.
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


_JSON_SAMPLE_TEXT = r'{"a": "村\u0000\"", "b": [1, 2.5, null, true], "c": {"z": -1180591620717411303424}}'


def _json_chunks() -> Callable[[Any, int], Sequence[str]] | None:
    """_JSON_TEXT's own C encoder, built once. JSONEncoder.encode builds it anew on every call, most
    of its time for a small value (an audit entry's duplicate flag, one per returning villager of a
    synced batch; docs/performance.md, "Tidy: one writer of the JSON text"). Built
    with _JSON_TEXT's options and without its check for circular values (json's check_circular=False):
    a value stored here holds none. None where the json module has no C encoder, or one that takes
    other arguments or writes another text than _JSON_TEXT (it is not a public function): then
    _JSON_TEXT writes every text itself."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    t = _JSON_TEXT
    try:
        chunks = make(
            None,
            t.default,
            json.encoder.encode_basestring,
            None,
            t.key_separator,
            t.item_separator,
            t.sort_keys,
            t.skipkeys,
            t.allow_nan,
        )
        sample = {"b": [1, 2.5, None, True], "a": '村\u0000"', "c": {"z": -(2**70)}}
        # Spelled out, not t.encode(sample): JSONEncoder.encode itself calls c_make_encoder.
        same = "".join(chunks(sample, 0)) == _JSON_SAMPLE_TEXT
    except Exception:  # noqa: BLE001 - any failure of a private function means: do not use it
        return None
    return chunks if same else None


_JSON_CHUNKS = _json_chunks()


def json_text(value: Any) -> str:
    """The text a JSON column stores for a value (JSONField.db_value; the audit's details, bound as
    written): what _JSON_TEXT.encode(value) returns (tests/hub/test_json_text.py), faster."""
    return "".join(_JSON_CHUNKS(value, 0)) if _JSON_CHUNKS else _JSON_TEXT.encode(value)


class JSONField(peewee.TextField):
    """JSON stored as text, the same on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json_text(value)

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            # Several times faster than json.loads, and the same values for every text it accepts.
            return _JSON_DECODER.decode(value)
        except (msgspec.MsgspecError, UnicodeError):
            return json.loads(value)  # what only json reads: NaN, 1e400, a lone surrogate

    if TYPE_CHECKING:  # on a row the attribute is the decoded value, not the field

        def __get__(self, instance: Any, owner: Any = None) -> Any: ...

        def __set__(self, instance: Any, value: Any) -> None: ...


_SQL: dict[tuple[Any, ...], str] = {}


def compiled(key: tuple[Any, ...], build: Callable[[], Any], params: list[Any] | None = None) -> str:
    """The SQL of the query `build()` makes, compiled by peewee once per key and database kind.

    For per-request queries whose shape never changes: peewee's compiler cost more than running
    them. The caller binds the parameters itself, in the order the query puts them, each through
    its field's db_value; given `params` (what the caller binds for the values `build` used), the
    first compilation checks they are what peewee binds.
    """
    full = (*key, database.param, is_postgres())
    sql = _SQL.get(full)
    if sql is None:
        sql, bound = build().sql()
        if params is not None and list(bound) != list(params):
            raise RuntimeError(f"parameters out of peewee's order for {key}: {bound!r} != {params!r}")
        _SQL[full] = sql
    return sql


def one_by(field: Any, value: Any, *, for_update: bool = False) -> Any:
    """`field.model.get_or_none(field == value)`, with the SQL compiled once per field and database kind.

    For per-request look-ups (a node by its id on every sync, a case by its receipt code on every
    status lookup): compiling a select of every column through peewee cost more than running it.
    `for_update`: the row is locked for the transaction on PostgreSQL (SQLite has one writer).
    """
    return one_where((field, value), for_update=for_update)


def one_where(*pairs: tuple[Any, Any], for_update: bool = False) -> Any:
    """The first row whose fields equal the values (`(field, value)` pairs of one model), or None."""
    return one_where_sent(*pairs, for_update=for_update)()


def one_where_sent(*pairs: tuple[Any, Any], for_update: bool = False) -> Callable[[], Any]:
    """`one_where`'s statement sent now; calling the result reads its row (or None).

    Inside `pipelined`, statements sent after it before its row is read go in the same round trip.
    """
    model = pairs[0][0].model
    if any(v is None for _, v in pairs):
        raise ValueError("one_where compares with =, never IS NULL")

    def build() -> Any:
        query = model.select().where(*(f == v for f, v in pairs)).limit(1)
        return query.for_update() if for_update and is_postgres() else query

    params = [*(f.db_value(v) for f, v in pairs), 1]
    sql = compiled((model.__name__, *(f.name for f, _ in pairs), for_update), build, params)
    cursor = database.execute_sql(sql, params)

    def row() -> Any:
        rows = cursor.fetchall()
        return _model_row(model, sql, cursor, rows[0]) if rows else None

    return row


def rows_sent(model: Any, sql: str, params: list[Any]) -> Callable[[], list[Any]]:
    """`list(model.raw(sql, *params))`'s statement sent now; calling the result reads its rows."""
    cursor = database.execute_sql(sql, params)
    return lambda: [_model_row(model, sql, cursor, row) for row in cursor.fetchall()]


# Per (model, SQL): the row's keys and converters as peewee's cursor wrapper resolves them from the
# cursor's columns. Resolving them (and building the query objects around them) per call cost ~4×
# the statement itself for a node row (docs/performance.md, issue #13, 2026-12-01 morning).
_ROW_SHAPES: dict[tuple[Any, str], tuple[list[int], list[str], list[Any]]] = {}


def _model_row(model: Any, sql: str, cursor: Any, row: tuple[Any, ...]) -> Any:
    """The model instance `model.raw(sql, ...)` makes of `row`: the same values, no field dirty."""
    shape = _ROW_SHAPES.get((model, sql))
    if shape is None:
        wrapper = peewee.ModelObjectCursorWrapper(cursor, model, [], model)
        wrapper.initialize()
        # In the order process_row sets them: the columns without a converter, then those with one.
        order = [*wrapper.no_convert, *wrapper.convert]
        shape = _ROW_SHAPES[(model, sql)] = (order, [wrapper.unique_columns[i] for i in order], wrapper.converters)
    order, names, converters = shape
    obj = model(
        __no_default__=1,
        **{name: row[i] if converters[i] is None else converters[i](row[i]) for i, name in zip(order, names)},
    )
    obj._dirty.clear()
    return obj


def update_by(field: Any, value: Any, values: dict[Any, Any]) -> None:
    """`field.model.update(values).where(field == value).execute()`, compiled once per set of columns."""
    model = field.model
    if value is None:
        raise ValueError("update_by compares with =, never IS NULL")
    fields = sorted(values, key=_column_order)
    params = [*(f.db_value(values[f]) for f in fields), field.db_value(value)]
    sql = compiled(
        (model.__name__, "update", field.name, *(f.name for f in fields)),
        lambda: model.update(values).where(field == value),
        params,
    )
    database.execute_sql(sql, params)


def _column_order(field: Any) -> Any:
    """The order peewee writes a query's columns in (its SET list, its INSERT columns)."""
    return field._sort_key


def insert_one(model: Any, values: dict[Any, Any]) -> Any:
    """`model.insert(values).execute()` (the new row's id), compiled once per set of columns."""
    fields = sorted(values, key=_column_order)
    params = [f.db_value(values[f]) for f in fields]
    sql = compiled((model.__name__, "insert", *(f.name for f in fields)), lambda: model.insert(values), params)
    cursor = database.execute_sql(sql, params)
    return cursor.fetchone()[0] if " RETURNING " in sql else cursor.lastrowid


class BaseModel(peewee.Model):
    class Meta:
        database = database
