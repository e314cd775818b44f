"""How signed bytes reach the hub: over HTTP here; a USB bundle is another transport."""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from typing import Any, Protocol

from shared import encoding, protocol
from shared.msgid import N_


class SyncError(Exception):
    """Anything that stopped a sync round; `message` is for the clerk."""

    def __init__(self, message: str, code: str = "error"):
        super().__init__(message)
        self.message = message
        self.code = code


class TransportError(SyncError):
    """The hub could not be reached or did not answer: the outcome is unknown, re-send the same bytes."""


class BusyError(TransportError):
    """The hub is full (signed 429 ``rate_limited``): nothing was stored; send again after ``retry_after`` s.

    ``jitter`` is the share of ``retry_after`` to add at random above it (node.scheduler.hub_wait).
    """

    def __init__(self, message: str, retry_after: float, jitter: float = 0.5):
        super().__init__(message, "rate_limited")
        self.retry_after = retry_after
        self.jitter = jitter


class RefusedError(SyncError):
    """The hub refused the message for a reason retrying will not fix: show the clerk."""


class TrustError(SyncError):
    """Something is wrong with trust (bad hub signature, revoked node, fork): raise the alarm."""


class Transport(Protocol):
    """Carries one message to the hub and returns (status, body bytes)."""

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]: ...


# Benchmarks only: with DAIBAN_SYNC_TRACE=FILE set, the sync path appends one JSON line per step
# (monotonic clock, shared by every process on the machine) so bench.sync_link can lay the node's
# work beside what crossed the link. Unset (production), trace() returns at its first test.
_TRACE_FILE = os.environ.get("DAIBAN_SYNC_TRACE") or None
_trace_lock = threading.Lock()


def trace(event: str, **fields: Any) -> None:
    """Record one step of a sync at the monotonic time now, when DAIBAN_SYNC_TRACE names a file."""
    if _TRACE_FILE is None:
        return
    line = json.dumps({"t": time.monotonic(), "ev": event, "th": threading.current_thread().name, **fields})
    with _trace_lock, open(_TRACE_FILE, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


COMPRESSORS = {"deflate": encoding.compress, "zstd": encoding.compress_zstd}

# Below this rate (bytes up and down per second, as the node saw its last exchange) the link is
# slow: 100 kbit/s. A 2G link (64 kbit/s) measures ~3 KB/s on the hello already and ~8 KB/s on
# a batch; a LAN hundreds of KB/s on a batch. The time includes the hub's work, so a busy hub
# lowers the figure too (a 60 KB batch would have to take 5 s): then the node spends more CPU.
SLOW_LINK_BYTES_PER_S = 12_500
# An exchange that moved less than this (a hello, a poll, a small batch) is mostly waiting: the
# hub's answer on a loaded LAN took 140 ms for a 1.7 KB hello, which reads as 12 KB/s and sent
# the first batch of an end-to-end run at the slow level (docs/performance.md, "End to end, node
# side, fifth pass"). So it counts as slow only below half the rate; a 2G hello measures ~3 KB/s.
SMALL_EXCHANGE_BYTES = 8_000


def link_is_slow(moved: int, bytes_per_s: float) -> bool:
    """Whether an exchange that moved `moved` bytes at this rate says the link is slow."""
    threshold = SLOW_LINK_BYTES_PER_S / 2 if moved < SMALL_EXCHANGE_BYTES else SLOW_LINK_BYTES_PER_S
    return bytes_per_s < threshold


# zstd level of bodies over a link that is not slow. 11, not the shared default 9: on the
# node's batches it takes 3 B per request off (94.0 -> 91.0 for 1,000 seeded captures in one
# batch) for ~3 ms more CPU per 1,000, and the hub inflates it as fast (docs/performance.md,
# "2G: where the seconds beyond the bytes go").
BODY_LEVEL = 11
# Above LARGE_BODY (a batch of some 300 captures or more) level 11 searches the lazy2 way with a
# 2^21-entry hash table. Half a table that size (it stays in the CPU's cache) and matches from 6
# bytes instead of 5 take about a fifth less CPU for as many bytes or fewer: the seeded batch of
# 1,000 captures 91,221 -> 91,150 B, 12.4 -> 10.0 ms (docs/performance.md, "End to end, node
# side, fifth pass"). Below it level 11 picks other searches, where this gains nothing.
LARGE_BODY = 256 * 1024
LARGE_BODY_TUNING = {"hash_log": 19, "min_match": 6}
# HTTP headers of one round trip, counted in: 214 up + 445 down when the threshold above was set;
# ~190 + ~320 since SESSION_HEADERS and the hub's JSON headers (`python -m bench.wire_parts`). Kept
# at 660: the hello's bodies are ~200 B lighter since they are compressed, so a hello is judged
# slow from ~103 ms (was ~120); the real figure would make it ~90 ms, which a loaded hub on a LAN
# reaches (docs/performance.md, "Headers: what nothing reads").
HEADER_BYTES = 660
# Told to the hub with every message over a slow link: the hub then compresses the answer harder
# (hub/api._signed); a hub that does not know the header ignores it (docs/protocol.md).
LINK_HEADER = "Daiban-Link"


def zstd_body(body: bytes) -> bytes:
    """A body compressed as it goes over a link that is not slow (BODY_LEVEL, LARGE_BODY_TUNING)."""
    return encoding.compress_zstd(body, BODY_LEVEL, LARGE_BODY_TUNING if len(body) > LARGE_BODY else None)


def accepted_encodings(header: str | None) -> set[str]:
    """The body encodings a hub's `Accept-Encoding` answer header names (RFC 7694)."""
    return encoding.named_encodings(header)


# Answers this node reads: zstd first (fewer bytes down a 2G link), deflate from hubs without it.
# urllib3 inflates deflate itself; zstd it leaves to us (it reads zstd only through backports.zstd).
ANSWER_ENCODINGS = "zstd, deflate"

# The headers of every request besides Host, Content-Length and Content-Type, instead of requests'
# defaults. Nothing on the way reads `Accept: */*` (the hub answers JSON whatever it says) or
# `Connection: keep-alive` (HTTP/1.1 keeps the connection without it), and the version in
# `python-requests/2.x` is no one's business: a short name still tells a proxy's or nginx's log a
# node from a browser; the node's version is in its signed hello. 73 B fewer per exchange, and a
# 2G sync makes two or three (docs/performance.md, "Headers: what nothing reads").
SESSION_HEADERS = {"User-Agent": "daiban-node", "Accept-Encoding": ANSWER_ENCODINGS}


def _is_certificate_failure(exc: BaseException) -> bool:
    """True when a certificate check failed anywhere in the chain.

    Under load urllib3 sometimes reports a refused certificate as a ConnectionError
    wrapping the SSL error; it is still an alarm, never a bad link to retry.
    """
    import requests

    return _found_in_chain(exc, (requests.exceptions.SSLError, ssl.SSLError))


def _found_in_chain(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """True when an error of one of `kinds` is anywhere in exc's chain (cause, context, reason, args)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, kinds):
            return True
        # urllib3 keeps the underlying error in .reason and in args, not always as __cause__.
        linked = [cur.__cause__, cur.__context__, getattr(cur, "reason", None), *getattr(cur, "args", ())]
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return False


def _closed_before_answer(exc: BaseException) -> bool:
    """True when the hub closed the connection without answering (a kept-alive one it let go)."""
    from http.client import RemoteDisconnected

    return _found_in_chain(exc, (RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError))


def post_resending_once(session: Any, url: str, **kwargs: Any) -> Any:
    """session.post, sent once more at once when the connection was closed before any answer.

    A hub lets an idle kept-alive connection go after a couple of seconds (gunicorn's keep-alive);
    a node coming back just then (a short Retry-After) writes into a connection already closed and
    reads no answer. The protocol makes a re-send safe (a batch already stored is answered with its
    stored ack, docs/protocol.md rule 4), and requests opens a new connection for it: the pool has
    dropped the closed one. Any other failure, and a second one, is the caller's to handle.
    """
    import requests

    try:
        return session.post(url, **kwargs)
    except requests.ConnectionError as exc:
        if _is_certificate_failure(exc) or not _closed_before_answer(exc):
            raise
    return session.post(url, **kwargs)


class HttpTransport:
    """POSTs to the hub with requests; compresses bodies; maps network trouble to TransportError."""

    # It touches no database, so a sync round may let it carry the next batch from a worker
    # thread while the round applies the answer before it (node/sync._Flight).
    overlaps = True

    def __init__(self, base_url: str, timeout: float = 30.0, verify: bool | str = True, pin: str | None = None):
        # requests (and urllib3 under it) costs the idle node about 5 MB: load it on first use.
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers = requests.structures.CaseInsensitiveDict(SESSION_HEADERS)
        self.session.verify = verify
        self.pin = pin
        # Deflate until the hub says it reads zstd; every answer says it again (docs/protocol.md).
        self.body_encoding = "deflate"
        # Bytes per second of the last exchange (None before the first): picks the zstd level.
        self.link_rate: float | None = None
        # What the last exchange said of the link (link_is_slow); nothing known yet: not slow.
        self.slow_link = False
        # One body compressed ahead of its exchange (pack_ahead): (body, coding, slow, packed).
        self._ahead: tuple[bytes, str, bool, tuple[bytes, str | None]] | None = None
        self._ahead_lock = threading.Lock()
        if pin:
            from .tls_pin import PinnedAdapter

            self.session.mount("https://", PinnedAdapter(pin))

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send body; returns (status, content); raises TransportError when the outcome is unknown."""
        packed, used = self._pack(body, self.body_encoding)
        status, content = self._post(path, packed, used)
        if used == "zstd" and status in (400, 415):
            # A hub that cannot read zstd stored nothing: the same bytes again, deflated.
            self.body_encoding = "deflate"
            status, content = self._post(path, *self._pack(body, "deflate"))
        return status, content

    def pack_ahead(self, body: bytes) -> None:
        """Compress `body` now, as the next exchange would, and keep it for the exchange that sends it.

        node/sync compresses a batch in a thread while the round's thread stores it; the exchange
        then takes these bytes if, when it starts, body, coding and link level are still the same
        (else it compresses again, as without this). One body is kept, the latest.
        """
        coding, slow = self.body_encoding, self.slow_link
        packed = self._compress(body, coding, slow)
        with self._ahead_lock:
            self._ahead = (body, coding, slow, packed)

    def _pack(self, body: bytes, body_encoding: str) -> tuple[bytes, str | None]:
        """The body as it goes on the wire, and its coding (None: plain, compressing did not pay)."""
        slow = self.slow_link
        with self._ahead_lock:
            ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[1] == body_encoding and ahead[2] == slow and ahead[0] == body:
            return ahead[3]
        return self._compress(body, body_encoding, slow)

    def _compress(self, body: bytes, body_encoding: str, slow: bool) -> tuple[bytes, str | None]:
        trace("compress", raw=len(body), coding=body_encoding, slow=slow)
        if body_encoding == "zstd":
            packed = encoding.compress_zstd(body, encoding.ZSTD_SLOW_LINK_LEVEL) if slow else zstd_body(body)
        else:
            packed = COMPRESSORS[body_encoding](body)
        return (packed, body_encoding) if encoding.pays(len(body), len(packed), body_encoding) else (body, None)

    def _post(self, path: str, body: bytes, body_encoding: str | None) -> tuple[int, bytes]:
        """POST a body already in `body_encoding` (None: plain); (status, inflated content)."""
        headers = {"Content-Type": "application/json"}
        if self.slow_link:
            headers[LINK_HEADER] = "slow"
        if body_encoding:
            headers["Content-Encoding"] = body_encoding
        import requests

        trace("post", sent=len(body))
        started = time.monotonic()
        try:
            resp = post_resending_once(
                self.session, self.base_url + path, data=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            if not _is_certificate_failure(exc):
                if isinstance(exc, requests.Timeout):
                    raise TransportError(N_("连接中心超时，结果未知，稍后将原样重发"), "timeout") from exc
                raise TransportError(N_("无法连接乡镇中心（网络不通或中心未开机）"), "unreachable") from exc
            # A certificate that is not the pinned one (or not trusted) is an alarm, not a bad link.
            if self.pin:
                raise TrustError(
                    N_("乡镇中心的安全证书与注册时不符，已拒绝连接（可能被冒充），请联系县里核实"), "tls_mismatch"
                ) from exc
            raise TrustError(
                N_("乡镇中心的安全证书无法验证；若县里使用自签名证书，请注册时加 --pin-cert 固定证书"), "tls_untrusted"
            ) from exc
        if resp.status_code >= 500 or resp.status_code in (502, 503, 504):
            raise TransportError(
                N_("中心暂时不可用（HTTP %(status)s），稍后重试", status=resp.status_code), "server_error"
            )
        # The whole answer is read by now: what moved, over how long, is the link's rate as seen here.
        down = resp.headers.get("Content-Length", "")
        moved = len(body) + HEADER_BYTES + (int(down) if down.isdigit() else len(resp.content))
        self.link_rate = moved / max(time.monotonic() - started, 1e-3)
        self.slow_link = link_is_slow(moved, self.link_rate)
        # The hub answered: learn what it reads (an old hub names nothing, so deflate again).
        self.body_encoding = "zstd" if "zstd" in accepted_encodings(resp.headers.get("Accept-Encoding")) else "deflate"
        content = resp.content
        trace("answered", status=resp.status_code, got=len(content))
        if resp.headers.get("Content-Encoding", "").strip().lower() == "zstd":
            try:
                content = encoding.decompress_zstd(content, protocol.MAX_INFLATED_BYTES)
            except encoding.EncodingError as exc:
                raise TransportError(N_("中心回复在传输中受损，稍后重试"), "damaged_in_transit") from exc
        trace("inflated", raw=len(content))
        return resp.status_code, content
