"""The one in-process transport for tests: the node's bytes go to the hub's Flask app (no sockets),
as httpx's WSGITransport does, with the same rules as node.transport.HttpTransport (a body travels
deflated when `shared.encoding.pays` says it saves bytes; 5xx is a TransportError, the outcome unknown).

Faults come two ways, and a test may use both:

- a script, one fault per exchange in order: ``drop_before``, ``drop_after`` (the hub got it,
  the answer is lost), ``duplicate`` (the hub gets it twice), ``stale_replay`` (an older message
  turns up late, then this one goes through), ``ok``;
- a hook ``fault(path, body, phase)`` called before and after delivery, which may raise
  TransportError (see ``drop`` and ``drop_all_after``).

Real sockets with timing faults are tests/faultlink.py's FaultLink, for real processes.
"""

from __future__ import annotations

from typing import Any, Callable

from node.transport import TransportError
from shared import encoding

Fault = Callable[[str, bytes, str], None]


class AppTransport:
    """Satisfies node.transport.Transport by posting to a hub test client."""

    def __init__(self, client: Any, faults: list[str] | None = None, fault: Fault | None = None, compress: bool = True):
        self.client = client
        self.compress = compress
        self.faults = list(faults or [])
        self.fault = fault
        self.sent: list[tuple[str, bytes]] = []  # (path, body as the node built it)

    def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {}
        if self.compress:
            packed = encoding.compress(body)
            if encoding.pays(len(body), len(packed), "deflate"):
                body = packed
                headers["Content-Encoding"] = "deflate"
        resp = self.client.post(path, data=body, content_type="application/json", headers=headers)
        return resp.status_code, resp.data

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Carry one message, suffering the next scripted fault and the hook's."""
        scripted = self.faults.pop(0) if self.faults else "ok"
        if self.fault:
            self.fault(path, body, "before")
        if scripted == "drop_before":
            raise TransportError("链路中断", "unreachable")
        if scripted == "stale_replay" and self.sent:
            self._post(*self.sent[len(self.sent) // 2])
        self.sent.append((path, body))
        status, raw = self._post(path, body)
        if scripted == "duplicate":
            status, raw = self._post(path, body)
        if self.fault:
            self.fault(path, body, "after")
        if scripted == "drop_after":
            raise TransportError("回复丢失", "timeout")
        if status >= 500:
            raise TransportError(f"HTTP {status}", "server_error")
        return status, raw


def drop(phase: str, times: int = 1, path: str = "/api/v1/sync") -> Fault:
    """A hook that loses the next `times` messages to `path` at `phase` ('before' or 'after' the hub saw them)."""
    left = {"n": times}

    def fault(p: str, body: bytes, ph: str) -> None:
        if p == path and ph == phase and left["n"] > 0:
            left["n"] -= 1
            raise TransportError("模拟断线", "timeout")

    return fault


def drop_all_after(path: str, delivered: int) -> Fault:
    """A hook that lets `delivered` messages to `path` through, then loses the answer of every later one."""
    seen = {"n": 0}

    def fault(p: str, body: bytes, ph: str) -> None:
        if p == path and ph == "after":
            seen["n"] += 1
            if seen["n"] > delivered:
                raise TransportError("连接中断", "unreachable")

    return fault
