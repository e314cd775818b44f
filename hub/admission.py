"""Admission limit on the sync endpoints: a full hub answers 429 at once instead of queueing.

Under a storm (hundreds of villages back at once after an outage) a request that waits in the
queue longer than the node's 30 s timeout is work wasted twice: the node gives up and re-sends,
and the hub still processes the abandoned copy. So each hub process admits at most
``SYNC_MAX_IN_FLIGHT`` sync requests at a time (set to 1 in the production unit: with gunicorn's
``gthread`` workers and ``--threads`` above it, the spare threads answer 429 in a millisecond while
one sync holds the CPU) and refuses a request that already waited ``SYNC_MAX_QUEUE_S`` seconds
(default 10) in the front proxy's queue (the ``X-Request-Start: t=<epoch>`` header nginx or a load
balancer sets; without it the check is off). A refusal is the API's signed ``rate_limited`` error
with ``retry_after`` and the same ``Retry-After`` header; it is answered before the body is read,
so nothing is stored and the node re-sends the same bytes later.

How long to tell a refused node to wait: about the work already promised to the nodes refused
before it. Each refusal adds the time a sync holds a slot here (the median of the recent ones) to a
backlog that drains at one second per slot per second; ``retry_after`` is that backlog over the
slots, rounded up, at least 1 s and at most ``SYNC_RETRY_AFTER_S`` (default 15). A burst of fifty
villages is mostly told 1 s and comes back while the slots still have work to do, where a fixed 15 s
left them idle; a storm of a thousand fills the backlog and is told up to the full 15 s, so it still
spreads out. A refusal for a long proxy queue is always told the full wait. (Letting a refused
request first wait a moment for a slot was measured and dropped: docs/performance.md, "50 nodes
at once: admission that keeps the slots busy".)

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
a process never runs more PostgreSQL connections for syncs than it has slots: under a storm the
refused threads run no query. Open connections (idle ones included) are at most one per thread.
Signing the refusal needs the hub key and its rotation chain, both read once when the app starts
(a rotation takes effect at the next restart anyway, hub/keys.py).
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from collections import deque
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


class Admission:
    """This process's in-flight sync slots and its refusal policy."""

    def __init__(self, slots: int, retry_after_s: int, max_queue_s: float, chain: list[dict[str, Any]] | None = None):
        self.slots = slots
        self.retry_after_s = retry_after_s  # the longest wait a refusal names
        self.max_queue_s = max_queue_s
        self.free = threading.BoundedSemaphore(slots)
        # The hub key's rotation chain as it stood at start (None: the database was not reachable then).
        self.chain = chain
        self.lock = threading.Lock()
        self.recent: deque[float] = deque(maxlen=SERVICE_SAMPLES)  # seconds recent syncs held their slot
        self.backlog_s = 0.0  # slot-seconds of work promised to the nodes refused so far, not yet drained
        self.backlog_at = time.monotonic()
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
            drained = max(0.0, now - self.backlog_at) * self.slots
            cap = float(self.retry_after_s * self.slots)
            backlog = max(0.0, self.backlog_s - drained) + service
            self.backlog_s = min(backlog, cap)
            self.backlog_at = now
            ahead = self.backlog_s / self.slots
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
    """Size this process's slots from the config and put the gate ahead of the database connection, once."""
    cfg = app.config
    if not cfg.get("SYNC_MAX_IN_FLIGHT"):
        # Off unless configured: the production unit and hub.env.example set it (with gthread workers);
        # `daiban hub run` for a demo or a test serves its villages without turning any away.
        return
    slots = int(cfg["SYNC_MAX_IN_FLIGHT"])
    app.extensions["daiban_admission"] = Admission(
        max(1, slots),
        max(1, int(cfg.get("SYNC_RETRY_AFTER_S") or DEFAULT_RETRY_AFTER_S)),
        float(cfg.get("SYNC_MAX_QUEUE_S") or DEFAULT_MAX_QUEUE_S),
        _chain_at_start(),
    )
    # Flask runs app-wide before_request hooks in list order and teardown hooks in reverse: first in
    # both lists means the gate runs before hub/web.py connects, and the release after it disconnects.
    app.before_request_funcs.setdefault(None, []).insert(0, _gate)
    app.teardown_request_funcs.setdefault(None, []).insert(0, _release)
