"""Admission limit on the sync endpoints: a full hub answers 429 at once instead of queueing.

Under a storm (hundreds of villages back at once after an outage) a request that waits in the
queue longer than the node's 30 s timeout is work wasted twice: the node gives up and re-sends,
and the hub still processes the abandoned copy. So each hub process admits at most
``SYNC_MAX_IN_FLIGHT`` sync requests at a time (set to 1 in the production unit: with gunicorn's ``gthread`` workers and
``--threads`` above it, the spare threads answer 429 in a millisecond while one sync holds the CPU)
and refuses a request that already waited ``SYNC_MAX_QUEUE_S`` seconds (default 10) in the front
proxy's queue (the ``X-Request-Start: t=<epoch>`` header nginx or a load balancer sets; without it
the check is off). A refusal is the API's signed ``rate_limited`` error with ``retry_after`` and a
``Retry-After`` header of ``SYNC_RETRY_AFTER_S`` seconds (default 15); it is answered before the
body is read, so nothing is stored and the node re-sends the same bytes later.
"""

from __future__ import annotations

import threading
import time
from functools import wraps
from typing import Any, Callable

from flask import Flask, Response, current_app, request

from shared import protocol

SYNC_ENDPOINTS = ("api.sync", "api.attachment_chunk")
DEFAULT_RETRY_AFTER_S = 15
DEFAULT_MAX_QUEUE_S = 10.0
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

    def __init__(self, slots: int, retry_after_s: int, max_queue_s: float):
        self.slots = slots
        self.retry_after_s = retry_after_s
        self.max_queue_s = max_queue_s
        self.free = threading.BoundedSemaphore(slots)

    def refusal(self) -> Response:
        """The signed ``rate_limited`` answer with ``Retry-After``."""
        from .api import _refusal  # the API's one signed error format

        resp = _refusal(protocol.error("rate_limited", retry_after=self.retry_after_s))
        resp.headers["Retry-After"] = str(self.retry_after_s)
        return resp


def admission() -> Admission:
    """This app's admission state."""
    state: Admission = current_app.extensions["daiban_admission"]
    return state


def _admitted(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gate = admission()
        age = queue_age(request.headers.get(QUEUE_HEADER), time.time())
        if age is not None and age > gate.max_queue_s:
            return gate.refusal()
        if not gate.free.acquire(blocking=False):
            return gate.refusal()
        try:
            return view(*args, **kwargs)
        finally:
            gate.free.release()

    return wrapper


def init_app(app: Flask) -> None:
    """Size this process's slots from the config and wrap the sync endpoints, once."""
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
    )
    for endpoint in SYNC_ENDPOINTS:
        app.view_functions[endpoint] = _admitted(app.view_functions[endpoint])
