"""A small HTTP/1.1 load generator (keep-alive connections in threads), run as its own process.

    python -m bench.loadgen URL --connections 8 --seconds 5

Prints JSON: requests, requests_per_s, p50_ms, p99_ms, errors, response_bytes (headers and body of one answer).
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from urllib.parse import urlsplit


def _request_bytes(url: str) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    req = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: Mozilla/5.0 (Linux; Android 8.1) bench\r\n"
        "Accept: text/html\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: zh-CN\r\n\r\n"
    ).encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, req


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, int]:
    """Read one response; (status, bytes including headers). Leaves extra bytes in buf."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head_end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:head_end]).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length = 0
    for line in head.split("\r\n")[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    while len(buf) < head_end + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    total = head_end + length
    del buf[:total]
    return status, total


def main() -> None:
    """Hammer one URL and report."""
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    host, port, req = _request_bytes(args.url)
    latencies: list[float] = []
    errors = [0]
    sizes: list[int] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + args.seconds

    def worker() -> None:
        local: list[float] = []
        sock = None
        buf = bytearray()
        while time.perf_counter() < stop_at:
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=10)
                    buf = bytearray()
                t0 = time.perf_counter()
                sock.sendall(req)
                status, size = _read_response(sock, buf)
                local.append(time.perf_counter() - t0)
                if status != 200:
                    errors[0] += 1
                elif not sizes:
                    sizes.append(size)
            except OSError:
                errors[0] += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()
        with lock:
            latencies.extend(local)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else float("nan")

    print(
        json.dumps(
            {
                "requests": len(latencies),
                "requests_per_s": round(len(latencies) / wall, 1),
                "p50_ms": round(pct(50), 1),
                "p99_ms": round(pct(99), 1),
                "errors": errors[0],
                "request_bytes": len(req),
                "response_bytes": sizes[0] if sizes else None,
            }
        )
    )


if __name__ == "__main__":
    main()
