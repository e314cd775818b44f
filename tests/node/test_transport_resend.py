"""A kept-alive connection the hub let go is not a failed sync: the node sends the same bytes
again at once on a new connection (node.transport.post_resending_once). Real sockets: a small
server answers the first request, keeps the connection, then closes it when the second arrives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from node.transport import HttpTransport, TransportError

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


def _read_request(conn: socket.socket) -> bytes:
    """One HTTP request (headers and a Content-Length body), or b"" when the peer closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + body


class LettingGoServer:
    """Answers each new connection's first request; a second request on it finds it closed.

    With `refuse_all` every request is met by a close: the hub is gone, not idle."""

    def __init__(self, refuse_all: bool = False) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.refuse_all = refuse_all
        self.requests = 0
        self.answered = 0
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            first = True
            while _read_request(conn):
                self.requests += 1
                if not first or self.refuse_all:
                    return  # closed without an answer, as a hub letting a kept-alive connection go
                self.answered += 1  # counted before the client can read the answer
                conn.sendall(ANSWER)
                first = False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[LettingGoServer]:
    srv = LettingGoServer()
    yield srv
    srv.close()


def test_a_connection_closed_before_the_answer_is_sent_again_on_a_new_one(server: LettingGoServer) -> None:
    transport = HttpTransport(f"http://127.0.0.1:{server.port}", timeout=5)
    assert transport.exchange("/api/v1/sync", b"{}") == (200, b'{"ok":true}')
    # The second exchange reuses the kept-alive connection, which the server closes unanswered.
    assert transport.exchange("/api/v1/sync", b"{}") == (200, b'{"ok":true}')
    assert (server.requests, server.answered, server.connections) == (3, 2, 2)


def test_a_hub_that_closes_every_connection_is_unreachable_after_one_resend() -> None:
    srv = LettingGoServer(refuse_all=True)
    try:
        transport = HttpTransport(f"http://127.0.0.1:{srv.port}", timeout=5)
        with pytest.raises(TransportError) as caught:
            transport.exchange("/api/v1/sync", b"{}")
        assert caught.value.code == "unreachable"
        assert (srv.requests, srv.answered) == (2, 0)
    finally:
        srv.close()
