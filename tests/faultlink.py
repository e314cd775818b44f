"""A fault-injecting HTTP link for tests: a loopback proxy between a node and the hub.

Each request that crosses the link may suffer one fault, drawn from a seeded
``random.Random`` so a failing run can be replayed with the same seed:

    drop_before        the connection is cut before the request reaches the hub
    drop_after         the request reached the hub, the answer is thrown away
    delay              the request waits (up to ``max_delay``) before going on
    throttle           both directions crawl at ``bytes_per_s``
    truncate_request   the hub gets a cut body (with a matching Content-Length)
    truncate_response  the node gets a cut answer, then the connection closes
    duplicate          the hub gets the request twice, at the same moment
    reorder            the request is held until the next one has gone through
    bad_gateway        the request reached the hub, the node gets 502 (outcome unknown)
    unavailable        the node gets 503, the hub never sees the request
    hang               nothing comes back until the client gives up

``plan(kind, ...)`` forces the next faults in order (for targeted tests);
``heal()`` turns every fault off.  Each connection carries one request (the link
answers ``Connection: close``), which keeps the bookkeeping exact.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

FAULTS = (
    "drop_before",
    "drop_after",
    "delay",
    "throttle",
    "truncate_request",
    "truncate_response",
    "duplicate",
    "reorder",
    "bad_gateway",
    "unavailable",
    "hang",
)

MAX_HEAD = 64 * 1024


@dataclass
class Message:
    """One HTTP message as read off a socket: the head lines and the body."""

    start: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header, case-insensitively."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def encode(self, body: bytes | None = None) -> bytes:
        """The message as bytes, with Content-Length fitting `body` and Connection: close."""
        body = self.body if body is None else body
        lines = [self.start]
        for key, value in self.headers:
            if key.lower() not in (b"content-length", b"connection", b"keep-alive", b"transfer-encoding"):
                lines.append(key + b": " + value)
        lines.append(b"Content-Length: " + str(len(body)).encode())
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    @property
    def status(self) -> int:
        """The status code of a response."""
        try:
            return int(self.start.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return 0


def read_message(sock: socket.socket, *, is_response: bool = False) -> Message | None:
    """Read one HTTP/1.1 message with a Content-Length body (or, for a response, up to EOF)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
        if len(buf) > MAX_HEAD and b"\r\n\r\n" not in buf:
            return None
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    headers = []
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers.append((key.strip(), value.strip()))
    msg = Message(lines[0], headers, b"")
    length = msg.header(b"content-length")
    if length is not None:
        need = int(length)
        while len(rest) < need:
            chunk = sock.recv(min(65536, need - len(rest)))
            if not chunk:
                return None
            rest += chunk
        msg.body = rest[:need]
    elif is_response:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        msg.body = rest
    return msg


def simple_response(status: int, reason: str, text: str) -> bytes:
    """A small plain-text response, as a gateway in the way would send."""
    body = text.encode("utf-8")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _abort(sock: socket.socket) -> None:
    """Close with a reset rather than a clean FIN, as a dropped link looks to the peer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


@dataclass
class FaultLink:
    """The proxy: listens on loopback, forwards to `upstream`, injects seeded faults."""

    upstream_port: int
    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    max_delay: float = 1.0
    bytes_per_s: int = 20_000
    hold_timeout: float = 3.0
    upstream_timeout: float = 60.0
    on_forward: Callable[[int, str], None] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self.rng = random.Random(self.seed)
        self.stats: Counter[str] = Counter()
        self.log: list[tuple[int, str, str]] = []
        self.down = False
        self._planned: list[str] = []
        self._lock = threading.Lock()
        self._held: list[threading.Event] = []
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="faultlink", daemon=True)

    # --- control ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL a node should use instead of the hub's."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FaultLink":
        """Start accepting connections."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and cut every open connection."""
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._open)
            held = list(self._held)
        for ev in held:
            ev.set()
        for s in socks:
            _abort(s)

    def __enter__(self) -> "FaultLink":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def plan(self, *kinds: str) -> None:
        """Force the next requests' faults, in order ('ok' for none)."""
        for kind in kinds:
            if kind != "ok" and kind not in FAULTS:
                raise ValueError(kind)
        with self._lock:
            self._planned.extend(kinds)

    def heal(self) -> None:
        """No more faults: the link works perfectly from now on."""
        with self._lock:
            self.rates = {}
            self._planned.clear()
            self.down = False

    def faults_injected(self) -> dict[str, int]:
        """How many requests suffered each fault so far."""
        return {k: self.stats[k] for k in FAULTS if self.stats[k]}

    # --- the proxy ---------------------------------------------------------------

    def _choose(self) -> tuple[int, str, float]:
        """The fault for the next request and a random number for its details."""
        with self._lock:
            n = self.stats["requests"]
            self.stats["requests"] += 1
            if self.down:
                kind = "drop_before"
            elif self._planned:
                kind = self._planned.pop(0)
            else:
                kind = "ok"
                roll = self.rng.random()
                for name in FAULTS:
                    rate = self.rates.get(name, 0.0)
                    if roll < rate:
                        kind = name
                        break
                    roll -= rate
            detail = self.rng.random()
            if kind != "ok":
                self.stats[kind] += 1
            return n, kind, detail

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.add(client)
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            client.settimeout(self.upstream_timeout)
            request = read_message(client)
            if request is None:
                return
            n, kind, detail = self._choose()
            self.log.append((n, kind, request.start.decode("latin-1")))
            self._release_held()
            self._act(client, request, n, kind, detail)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(client)
            try:
                client.close()
            except OSError:
                pass

    def _release_held(self) -> None:
        """A reordered request waits for the next one; this is the next one, so let it go after us."""
        with self._lock:
            held, self._held = self._held, []
        if held:
            # Let this request reach the hub first; the held one follows a moment later.
            def release() -> None:
                for ev in held:
                    ev.set()

            threading.Timer(0.05, release).start()

    def _act(self, client: socket.socket, request: Message, n: int, kind: str, detail: float) -> None:
        if kind == "drop_before":
            _abort(client)
            return
        if kind == "unavailable":
            client.sendall(simple_response(503, "Service Unavailable", "上游暂不可用"))
            return
        if kind == "hang":
            self._hang(client)
            return
        if kind == "delay":
            time.sleep(detail * self.max_delay)
        if kind == "reorder":
            ev = threading.Event()
            with self._lock:
                self._held.append(ev)
            ev.wait(self.hold_timeout)
        if kind == "truncate_request":
            cut = int(detail * len(request.body)) if request.body else 0
            response = self._forward(request.encode(request.body[:cut]), n, kind)
        elif kind == "duplicate":
            response = self._forward_twice(request, n)
        elif kind == "throttle":
            response = self._forward(request.encode(), n, kind, throttled=True)
        else:
            response = self._forward(request.encode(), n, kind)
        if response is None:
            client.sendall(simple_response(502, "Bad Gateway", "无法连接上游"))
            return
        if kind == "drop_after":
            _abort(client)
            return
        if kind == "bad_gateway":
            client.sendall(simple_response(502, "Bad Gateway", "上游回复丢失"))
            return
        out = response.encode()
        if kind == "truncate_response":
            client.sendall(out[: int(detail * len(out))])
            _abort(client)
            return
        if kind == "throttle":
            self._trickle(client, out)
        else:
            client.sendall(out)

    def _hang(self, client: socket.socket) -> None:
        """Say nothing until the client gives up or the link stops."""
        client.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if client.recv(1024) == b"":
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def _trickle(self, sock: socket.socket, data: bytes) -> None:
        step = max(1, self.bytes_per_s // 20)
        for i in range(0, len(data), step):
            sock.sendall(data[i : i + step])
            time.sleep(0.05)

    def _forward(self, raw: bytes, n: int, kind: str, *, throttled: bool = False) -> Message | None:
        """Send the request upstream and read the whole answer; None when the hub is unreachable."""
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=self.upstream_timeout)
        except OSError:
            return None
        with self._lock:
            self._open.add(up)
        try:
            if throttled:
                self._trickle(up, raw)
            else:
                up.sendall(raw)
            if self.on_forward is not None:
                self.on_forward(n, kind)
            return read_message(up, is_response=True)
        except OSError:
            return None
        finally:
            with self._lock:
                self._open.discard(up)
            up.close()

    def _forward_twice(self, request: Message, n: int) -> Message | None:
        """Both copies reach the hub at once; the node gets whichever answer came first."""
        answers: list[Message | None] = []
        raw = request.encode()

        def one() -> None:
            answers.append(self._forward(raw, n, "duplicate"))

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        good = [a for a in answers if a is not None]
        return good[0] if good else None
