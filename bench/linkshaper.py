"""A loopback TCP proxy that shapes a link: bandwidth cap each way, one-way delay, seeded connection drops.

Each direction is modelled as a FIFO pipe: a chunk starts transmitting when the pipe is free, takes
len/rate seconds, and arrives `delay` seconds later.  A bounded queue per direction stands in for the
socket and network buffers, so a fast sender is held back as on a real link.  The proxy counts bytes
each way and round trips (a change of direction from upstream to downstream data).

Run alone:  python -m bench.linkshaper --listen 9000 --target 127.0.0.1:8700 --kbit 64 --delay-ms 150
"""

from __future__ import annotations

import argparse
import asyncio
import random
import threading
import time
from dataclasses import dataclass, field

CHUNK = 1460  # one TCP segment's worth of payload
BUFFER_CHUNKS = 48  # ~70 KB in flight per direction, like socket plus network buffers


@dataclass
class Counters:
    """What crossed the proxy."""

    up_bytes: int = 0
    down_bytes: int = 0
    connections: int = 0
    dropped: int = 0
    round_trips: int = 0
    first_byte_at: float | None = None
    last_byte_at: float | None = None
    _last_dir: dict[int, str] = field(default_factory=dict)

    def note(self, conn: int, direction: str, n: int) -> None:
        now = time.monotonic()
        self.first_byte_at = self.first_byte_at or now
        self.last_byte_at = now
        if direction == "up":
            self.up_bytes += n
        else:
            self.down_bytes += n
            if self._last_dir.get(conn) == "up":
                self.round_trips += 1
        self._last_dir[conn] = direction

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "up_bytes": self.up_bytes,
            "down_bytes": self.down_bytes,
            "connections": self.connections,
            "dropped": self.dropped,
            "round_trips": self.round_trips,
        }


@dataclass
class Chunk:
    """One chunk through the proxy (trace=True): monotonic times, shared by every local process."""

    conn: int
    direction: str  # "up" (node to hub) or "down"
    size: int
    read: float  # read from the sender (as the sender wrote it, give or take the loop)
    wire_start: float  # began to cross the shaped link
    wire_end: float  # last bit on the link; it reaches the far end `delay` later
    delivered: float = 0.0  # written to the receiver


class _Pipe:
    """One direction of the shaped link."""

    def __init__(self, rate_bps: float | None, delay: float):
        self.rate = rate_bps / 8 if rate_bps else None  # bytes per second
        self.delay = delay
        self.free_at = 0.0
        self.last_start = 0.0

    def arrival(self, n: int) -> float:
        now = time.monotonic()
        start = max(now, self.free_at)
        self.last_start = start
        self.free_at = start + (n / self.rate if self.rate else 0.0)
        return self.free_at + self.delay


class LinkShaper:
    """The proxy; use start()/stop() from a thread-based program, or `with LinkShaper(...) as link:`."""

    def __init__(
        self,
        target: tuple[str, int],
        *,
        kbit: float | None = None,
        delay_ms: float = 0.0,
        drop_rate: float = 0.0,
        seed: int = 1,
        listen_port: int = 0,
        drop_first_at: int | None = None,
        trace: bool = False,
    ):
        self.target = target
        self.rate = kbit * 1000 if kbit else None
        self.delay = delay_ms / 1000
        self.drop_rate = drop_rate
        # Cut the first connection after this many bytes: the cost of one drop, shown deterministically.
        self.drop_first_at = drop_first_at
        self.rng = random.Random(seed)
        self.listen_port = listen_port
        self.counters = Counters()
        # With trace=True, every chunk as a Chunk (bench.sync_link prints the 2G run's timeline).
        self.trace = trace
        self.chunks: list[Chunk] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        # One link shared by every connection, as a village has one modem.
        self._up = _Pipe(self.rate, self.delay)
        self._down = _Pipe(self.rate, self.delay)

    @property
    def port(self) -> int:
        return self.listen_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    def reset(self) -> None:
        """Zero the counters (between runs)."""
        self.counters = Counters()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters.connections += 1
        conn = self.counters.connections
        doomed_after = None
        if conn == 1 and self.drop_first_at is not None:
            doomed_after = self.drop_first_at
        elif self.drop_rate and self.rng.random() < self.drop_rate:
            # The connection dies somewhere in its first 64 KB, as a 2G link drops mid-transfer.
            doomed_after = self.rng.randint(0, 64 * 1024)
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        moved = [0]
        stop = asyncio.Event()

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, pipe: _Pipe, direction: str) -> None:
            queue: asyncio.Queue[tuple[float, bytes, Chunk | None] | None] = asyncio.Queue(BUFFER_CHUNKS)

            async def deliver() -> None:
                while True:
                    item = await queue.get()
                    if item is None:
                        break
                    at, data, chunk = item
                    wait = at - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    # Counted before the write, so a client that has its answer sees it counted.
                    self.counters.note(conn, direction, len(data))
                    if chunk is not None:
                        chunk.delivered = time.monotonic()
                    dst.write(data)
                    await dst.drain()
                try:
                    dst.write_eof()
                except (OSError, RuntimeError):
                    pass

            task = asyncio.create_task(deliver())
            try:
                while not stop.is_set():
                    data = await src.read(CHUNK)
                    if not data:
                        break
                    if doomed_after is not None and moved[0] + len(data) > doomed_after:
                        self.counters.dropped += 1
                        stop.set()
                        break
                    moved[0] += len(data)
                    read_at = time.monotonic()
                    arrive = pipe.arrival(len(data))
                    chunk = None
                    if self.trace:
                        chunk = Chunk(conn, direction, len(data), read_at, pipe.last_start, pipe.free_at)
                        self.chunks.append(chunk)
                    await queue.put((arrive, data, chunk))
                if not stop.is_set():
                    await queue.put(None)
                    await task
            except (OSError, ConnectionError):
                stop.set()
            finally:
                if stop.is_set():
                    task.cancel()
                    for w in (writer, up_w):
                        w.transport.abort()

        try:
            await asyncio.gather(
                pump(reader, up_w, self._up, "up"), pump(up_r, writer, self._down, "down"), return_exceptions=True
            )
        finally:
            for w in (writer, up_w):
                w.close()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        async with self._server:
            await self._server.serve_forever()

    def start(self) -> "LinkShaper":
        """Serve in a background thread; returns once listening."""

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            loop = self._loop
            try:
                loop.run_until_complete(self._serve())
            except (asyncio.CancelledError, RuntimeError):
                pass  # stop() ends the loop under the server
            finally:
                # Let every connection close its sockets before the loop goes away.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(asyncio.sleep(0.01))
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="linkshaper")
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> "LinkShaper":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Run the proxy until interrupted, printing counters every few seconds."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--target", required=True, help="host:port")
    ap.add_argument("--kbit", type=float, default=None)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--drop-rate", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    link = LinkShaper(
        (host, int(port)),
        kbit=args.kbit,
        delay_ms=args.delay_ms,
        drop_rate=args.drop_rate,
        seed=args.seed,
        listen_port=args.listen,
    ).start()
    try:
        while True:
            time.sleep(5)
            print(link.counters.as_dict(), flush=True)
    except KeyboardInterrupt:
        link.stop()


if __name__ == "__main__":
    main()
