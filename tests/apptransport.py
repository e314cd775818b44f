"""A transport that hands the node's bytes to the hub's Flask app in-process (no sockets)."""

from __future__ import annotations

from typing import Any, Callable

from node.transport import TransportError


class AppTransport:
    """Satisfies node.transport.Transport by calling a hub test client; faults can be injected."""

    def __init__(self, client: Any):
        self.client = client
        self.sent: list[bytes] = []
        self.fault: Callable[[str, bytes, str], None] | None = None  # called with (path, body, phase)

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Deliver body to the hub app; a fault may drop it before or after delivery."""
        if self.fault:
            self.fault(path, body, "before")
        self.sent.append(body)
        resp = self.client.post(path, data=body, content_type="application/json")
        if self.fault:
            self.fault(path, body, "after")
        return resp.status_code, resp.data


def drop(phase: str, times: int = 1, path: str = "/api/v1/sync") -> Callable[[str, bytes, str], None]:
    """A fault that loses the next `times` messages at `phase` ('before' or 'after' the hub saw them)."""
    left = {"n": times}

    def fault(p: str, body: bytes, ph: str) -> None:
        if p == path and ph == phase and left["n"] > 0:
            left["n"] -= 1
            raise TransportError("模拟断线", "timeout")

    return fault
