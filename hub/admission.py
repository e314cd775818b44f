"""Admission limit on the sync endpoints: a full hub answers 429 at once instead of queueing.

Under a storm (hundreds of villages back at once after an outage) a request that waits in the
queue longer than the node's 30 s timeout is work wasted twice: the node gives up and re-sends,
and the hub still processes the abandoned copy. So the hub admits at most ``SYNC_SLOTS`` sync
requests at a time, counted over all its gunicorn workers (5 in the production unit, one per
worker: the slots are byte locks in ``DATA_DIR/sync-slots.lock``, ``HubSlots``), and at most
``SYNC_MAX_IN_FLIGHT`` of them in one process (3 in the production unit, below gunicorn's
``--threads 4``: with ``gthread`` workers a worker running syncs keeps a spare thread that answers
429 in a millisecond while the syncs hold the CPU). A sync is refused only when every slot of the
hub is busy (or its own worker already runs its share): two villages whose kept-alive connections
land on the same worker are both admitted while other workers idle. Without ``SYNC_SLOTS`` each
process counts only its own ``SYNC_MAX_IN_FLIGHT`` slots, as before (``LocalSlots``).

A worker that dies holding a slot does not leak it: the slot is an ``fcntl`` record lock, which
the kernel drops with the process (kill -9 and gunicorn's timeout kill included); no file
content records who holds what. The locks belong to a process, not a thread, so each process
keeps one descriptor of the file open for its life (closing any descriptor of a file drops all
the process's locks on it) and its own list of the slots its threads hold.

The hub also refuses a request that already waited ``SYNC_MAX_QUEUE_S`` seconds (default 10) in
the front proxy's queue (the ``X-Request-Start: t=<epoch>`` header nginx or a load balancer sets;
without it the check is off). A refusal is the API's signed ``rate_limited`` error with
``retry_after`` and the same ``Retry-After`` header; it is answered before the body is read, so
nothing is stored and the node re-sends the same bytes later.

How long to tell a refused node to wait: about the work already promised to the nodes refused
before it. Each refusal adds the time a sync holds a slot here (the median of this process's
recent ones) to a backlog that drains at one second per slot per second; ``retry_after`` is that
backlog over the slots, rounded up, at least 1 s and at most ``SYNC_RETRY_AFTER_S`` (default 15).
With ``SYNC_SLOTS`` the backlog is the whole hub's (kept in the same file, under a lock of its
own), so the workers do not each promise the same free second to different villages. A burst of
fifty villages is mostly told 1 s and comes back while the slots still have work to do, where a
fixed 15 s left them idle; a storm of a thousand fills the backlog and is told up to the full
15 s, so it still spreads out. A refusal for a long proxy queue is always told the full wait.
(Letting a refused request first wait a moment for a slot was measured and dropped:
docs/performance.md, "50 nodes at once: admission that keeps the slots busy".)

Whole seconds are too coarse for a sync that holds its slot ~0.1 s: every refusal of a burst was
told 1 s, so they all came back together once a second while the slots sat idle most of it. The
body therefore also names ``retry_after_ms``, the same backlog to the millisecond: the k-th refusal
of the current backlog is told about k slot turns (the median hold over the slots) plus a random
part of one turn, so the refused villages come back one turn apart; at the cap the random part is
up to half the cap, as the node's own jitter spreads whole seconds. Nodes that know the field wait
that (``node.scheduler.hub_wait``); older ones keep ``retry_after`` and the header, unchanged.
(docs/performance.md, "50 nodes at once: refusals spread below a second".)

The gate runs before the request takes its database connection (hub/web.py) and frees the slot only
after that connection is given back (closed, or kept idle by its thread on PostgreSQL, hub/db.py), so
the hub never runs more PostgreSQL connections for syncs than it has slots: under a storm the
refused threads run no query. Open connections (idle ones included) are at most one per thread.
Signing the refusal needs the hub key and its rotation chain, both read once when the app starts
(a rotation takes effect at the next restart anyway, hub/keys.py).
"""

from __future__ import annotations

import fcntl
import math
import os
import random
import statistics
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, request

from shared import messages, protocol

from .db import database

SYNC_ENDPOINTS = ("api.sync", "api.attachment_chunk")
DEFAULT_RETRY_AFTER_S = 15
MIN_RETRY_AFTER_S = 1
DEFAULT_MAX_QUEUE_S = 10.0
# The time a sync holds its slot is the median of this many recent ones: a worker's first sync
# (imports, first connection) or a stray slow one must not set every refused node's wait.
SERVICE_SAMPLES = 25
# Until this process has seen a sync hold its slot, a refusal assumes one takes this long.
DEFAULT_SERVICE_S = 0.1
QUEUE_HEADER = "X-Request-Start"
# Epoch values in seconds, milliseconds or microseconds (proxies differ): told apart by size.
_SCALES = ((1e15, 1e6), (1e12, 1e3), (0.0, 1.0))
# The hub's slots file (in DATA_DIR): bytes 0-15 hold the backlog (seconds, and the monotonic time
# it was last brought up to date), locked while read and written; slot i is a lock on byte 16 + i.
SLOTS_FILE = "sync-slots.lock"
_BACKLOG = struct.Struct("<dd")
_SLOT_BASE = _BACKLOG.size

Backlog = tuple[float, float]  # (slot-seconds promised and not yet drained, monotonic time of that figure)
Step = Callable[[Backlog], Backlog]


def queue_age(header: str | None, now: float) -> float | None:
    """Seconds a request waited before the hub saw it, from ``X-Request-Start``; None when absent or unreadable."""
    if not header:
        return None
    text = header.strip()
    if text.startswith("t="):
        text = text[2:]
    try:
        stamp = float(text)
    except ValueError:
        return None
    if not 0 < stamp < 1e17:  # nan, inf, negative, absurd: the header is ignored, never a 500
        return None
    seconds = next(stamp / div for floor, div in _SCALES if stamp >= floor)
    return max(0.0, now - seconds)


class LocalSlots:
    """This process's slots alone (no ``SYNC_SLOTS``): a bounded semaphore, the backlog in memory."""

    def __init__(self, slots: int):
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._backlog: Backlog = (0.0, 0.0)

    def acquire(self, blocking: bool = False) -> bool:
        """Take a free slot if there is one; never waits (admission refuses instead)."""
        if blocking:
            raise ValueError("admission never waits for a slot")
        return self._free.acquire(blocking=False)

    def release(self) -> None:
        """Give back one slot this process holds."""
        self._free.release()

    def update_backlog(self, step: Step) -> None:
        """Replace the backlog by ``step(backlog)``, one caller at a time."""
        with self._lock:
            self._backlog = step(self._backlog)


class _SlotsFile:
    """One process's open descriptor of a hub's slots file and the slots this process holds in it."""

    def __init__(self, path: Path):
        # Never closed: closing any descriptor of the file would drop every lock this process holds on it.
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.held: list[int] = []  # slot numbers this process's threads hold (record locks are per process)
        self.slots_lock = threading.Lock()
        self.backlog_lock = threading.Lock()


_files: dict[tuple[int, str], _SlotsFile] = {}
_files_lock = threading.Lock()


def _slots_file(path: str) -> _SlotsFile:
    """This process's descriptor of the file at this real path (a forked worker opens its own: locks
    are not inherited), shared by every HubSlots of the process on that file."""
    key = (os.getpid(), path)
    found = _files.get(key)
    if found is None:
        with _files_lock:
            found = _files.get(key)
            if found is None:
                found = _files[key] = _SlotsFile(Path(path))
    return found


class HubSlots:
    """Slots shared by every process of one hub: byte locks in a file, dropped by the kernel with a dead process.

    A request takes slot i by locking byte ``16 + i`` without waiting (``F_SETLK``); it is free
    again when this process unlocks it or ends, however it ends. ``per_process`` caps how many
    of them one process's threads hold, so a worker with syncs running keeps threads to refuse.
    """

    def __init__(self, path: Path, slots: int, per_process: int | None = None):
        self.path = os.path.realpath(path)
        self.slots = slots
        self.per_process = min(slots, per_process or slots)
        _slots_file(self.path)  # created at start, so a missing or read-only DATA_DIR fails then

    def acquire(self, blocking: bool = False) -> bool:
        """Take a slot no process of the hub holds, if any and this process is under its share; never waits."""
        if blocking:
            raise ValueError("admission never waits for a slot")
        f = _slots_file(self.path)
        with f.slots_lock:
            if len(f.held) >= self.per_process:
                return False
            for slot in range(self.slots):
                if slot in f.held:
                    continue
                try:
                    fcntl.lockf(f.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SLOT_BASE + slot)
                except OSError:  # EAGAIN/EACCES: another process holds it
                    continue
                f.held.append(slot)
                return True
        return False

    def release(self) -> None:
        """Give back one slot this process holds (which one does not matter: they are alike)."""
        f = _slots_file(self.path)
        with f.slots_lock:
            if not f.held:
                raise ValueError("released a sync slot this process does not hold")
            fcntl.lockf(f.fd, fcntl.LOCK_UN, 1, _SLOT_BASE + f.held.pop())

    def update_backlog(self, step: Step) -> None:
        """Replace the hub's backlog by ``step(backlog)`` under the file's backlog lock (other processes wait)."""
        f = _slots_file(self.path)
        with f.backlog_lock:
            fcntl.lockf(f.fd, fcntl.LOCK_EX, _BACKLOG.size, 0)
            try:
                raw = os.pread(f.fd, _BACKLOG.size, 0)
                state = _BACKLOG.unpack(raw) if len(raw) == _BACKLOG.size else (0.0, 0.0)
                os.pwrite(f.fd, _BACKLOG.pack(*step(state)), 0)
            finally:
                fcntl.lockf(f.fd, fcntl.LOCK_UN, _BACKLOG.size, 0)

    def held_here(self) -> int:
        """How many slots this process's threads hold now."""
        return len(_slots_file(self.path).held)


class Admission:
    """The hub's in-flight sync slots (this process's alone, or the whole hub's) and the refusal policy."""

    def __init__(
        self,
        slots: int,
        retry_after_s: int,
        max_queue_s: float,
        chain: list[dict[str, Any]] | None = None,
        free: LocalSlots | HubSlots | None = None,
    ):
        self.slots = slots  # the slots the backlog drains over: the hub's with HubSlots, else this process's
        self.retry_after_s = retry_after_s  # the longest wait a refusal names
        self.max_queue_s = max_queue_s
        self.free = free or LocalSlots(slots)
        # The hub key's rotation chain as it stood at start (None: the database was not reachable then).
        self.chain = chain
        self.lock = threading.Lock()
        self.recent: deque[float] = deque(maxlen=SERVICE_SAMPLES)  # seconds recent syncs held their slot
        self.rng = random.Random()  # spreads refusals within a slot turn; not a secret

    def held(self, seconds: float) -> None:
        """Record how long a sync held its slot."""
        with self.lock:
            self.recent.append(seconds)

    def wait_for(self, now: float) -> tuple[int, int]:
        """The wait this refusal should name: the promised work ahead of it over the slots.

        Returns whole seconds in [1, retry_after_s] (``retry_after`` and the header) and the same
        to the millisecond with a random part of one slot turn (``retry_after_ms``, at least 50 ms).
        """
        with self.lock:
            service = statistics.median(self.recent) if self.recent else DEFAULT_SERVICE_S
        cap = float(self.retry_after_s * self.slots)
        told: list[float] = []

        def step(state: Backlog) -> Backlog:
            backlog_s, at = state
            if at > now + self.retry_after_s:
                # Later than any other process can have written it: a figure from before a reboot
                # (monotonic time starts again), long drained.
                backlog_s, at = 0.0, now
            backlog = max(0.0, backlog_s - max(0.0, now - at) * self.slots) + service
            told.append(backlog)
            return min(backlog, cap), max(now, at)

        self.free.update_backlog(step)
        backlog = told[0]
        ahead = min(backlog, cap) / self.slots
        spread = self.rng.random() * (self.retry_after_s / 2 if backlog >= cap else service / self.slots)
        seconds = int(min(self.retry_after_s, max(MIN_RETRY_AFTER_S, math.ceil(ahead))))
        millis = min(messages.RETRY_AFTER_MS_MAX, max(messages.RETRY_AFTER_MS_MIN, round((ahead + spread) * 1000)))
        return seconds, millis

    def refusal(self, retry_after: int | None = None, retry_after_ms: int | None = None) -> Response:
        """The signed ``rate_limited`` answer with ``Retry-After`` (the longest wait unless told otherwise)."""
        from .api import signed_refusal  # the API's one signed error format

        if self.chain is None:  # not known at start: read it once, on this one request's connection
            from .keys import rotation_chain

            with database.connection_context():
                self.chain = rotation_chain()
        seconds = self.retry_after_s if retry_after is None else retry_after
        extra: dict[str, int] = {"retry_after": seconds}
        if retry_after_ms is not None:
            extra["retry_after_ms"] = retry_after_ms
        resp = signed_refusal(protocol.error("rate_limited", **extra), self.chain)
        resp.headers["Retry-After"] = str(seconds)
        return resp


def admission() -> Admission:
    """This app's admission state."""
    state: Admission = current_app.extensions["daiban_admission"]
    return state


def _gate() -> Response | None:
    """Admit a sync into a free slot, or refuse it; runs before any other before_request hook."""
    if request.endpoint not in SYNC_ENDPOINTS:
        return None
    gate = admission()
    age = queue_age(request.headers.get(QUEUE_HEADER), time.time())
    if age is not None and age > gate.max_queue_s:
        return gate.refusal()
    if not gate.free.acquire(blocking=False):
        return gate.refusal(*gate.wait_for(time.monotonic()))
    g.daiban_sync_slot = time.monotonic()
    return None


def _release(exc: BaseException | None) -> None:
    """Free the slot; runs after every other teardown hook, so after the connection is closed."""
    since = g.pop("daiban_sync_slot", None)
    if since is not None:
        gate = admission()
        gate.free.release()
        gate.held(time.monotonic() - since)


def _chain_at_start() -> list[dict[str, Any]] | None:
    from .keys import rotation_chain

    try:
        with database.connection_context():
            return rotation_chain()
    except Exception:  # noqa: BLE001 - database not up yet: the first refusal reads it instead
        return None


def init_app(app: Flask) -> None:
    """Size the hub's slots from the config and put the gate ahead of the database connection, once.

    ``SYNC_SLOTS`` set: that many slots for the whole hub, shared by its processes through
    ``DATA_DIR/sync-slots.lock``, at most ``SYNC_MAX_IN_FLIGHT`` (default all of them) in one process.
    Only ``SYNC_MAX_IN_FLIGHT`` set: that many slots in each process, as before. Neither: no limit.
    """
    cfg = app.config
    hub_slots = int(cfg.get("SYNC_SLOTS") or 0)
    per_process = int(cfg.get("SYNC_MAX_IN_FLIGHT") or 0)
    if not hub_slots and not per_process:
        # Off unless configured: the production unit and hub.env.example set it (with gthread workers);
        # `daiban hub run` for a demo or a test serves its villages without turning any away.
        return
    slots = max(1, hub_slots or per_process)
    free: LocalSlots | HubSlots
    if hub_slots:
        free = HubSlots(Path(cfg["DATA_DIR"]) / SLOTS_FILE, slots, max(1, per_process) if per_process else None)
    else:
        free = LocalSlots(slots)
    app.extensions["daiban_admission"] = Admission(
        slots,
        max(1, int(cfg.get("SYNC_RETRY_AFTER_S") or DEFAULT_RETRY_AFTER_S)),
        float(cfg.get("SYNC_MAX_QUEUE_S") or DEFAULT_MAX_QUEUE_S),
        _chain_at_start(),
        free,
    )
    # Flask runs app-wide before_request hooks in list order and teardown hooks in reverse: first in
    # both lists means the gate runs before hub/web.py connects, and the release after it disconnects.
    app.before_request_funcs.setdefault(None, []).insert(0, _gate)
    app.teardown_request_funcs.setdefault(None, []).insert(0, _release)
