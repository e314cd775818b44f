"""One sync round: ask where to resume (once per process), send batches, poll for updates."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator

import peewee
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import encoding, messages, protocol

from . import meta, outbox, progress, reconcile
from .apply import apply_resume, apply_response, cursor_after
from .attachments import upload_pending
from .db import database
from .hubkey import STALE_HELLO, hub_clock, note_hub_time, verify_hub
from .models import Batch
from .scheduler import hub_wait
from .transport import BusyError, RefusedError, SyncError, Transport, TransportError, TrustError, trace
from shared.msgid import N_, concatenated

SYNC_PATH = "/api/v1/sync"
log = logging.getLogger("daiban.node.sync")


@dataclass
class SyncReport:
    """What one round did, for the CLI and the sync panel."""

    batches: int = 0
    acked: int = 0
    refused: int = 0
    updates: int = 0
    split: int = 0
    quarantined: int = 0
    attachments: int = 0
    reconciled: int = 0
    resumed: bool = False
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line in Chinese."""
        parts = [
            N_(
                "上传批次 %(batches)s，中心确认事件 %(acked)s（退回 %(refused)s），收到状态更新 %(updates)s",
                batches=self.batches,
                acked=self.acked,
                refused=self.refused,
                updates=self.updates,
            )
        ]
        if self.split:
            parts.append(N_("，拆分 %(split)s 次", split=self.split))
        if self.attachments:
            parts.append(N_("，上传附件 %(count)s 个", count=self.attachments))
        if self.reconciled:
            parts.append(N_("，中心数据曾恢复，已与中心重新核对全部办理状态"))
        return concatenated(parts)


# Exchanges one round may make before it stops and says why: whatever the hub answers, a round ends.
MAX_POLLS = 200
MAX_RESUMES = 3
MAX_BATCHES = 2_000
# An unsigned 413 may come from any proxy on the way: believe it only down to this cap.
UNSIGNED_413_FLOOR = 64 * 1024


class SyncClient:
    """Talks to the hub through a transport; one per process so the resume check happens once."""

    def __init__(self, transport: Transport, key: Ed25519PrivateKey):
        self.transport = transport
        self.key = key
        self.resume_checked = False
        self._complete_answer = False

    def _exchange(self, body_bytes: bytes, request_hash: str) -> tuple[int, dict[str, Any]]:
        return self._verify(*self.transport.exchange(SYNC_PATH, body_bytes), request_hash)

    def _verify(
        self, status: int, raw: bytes, request_hash: str, parsed: tuple[dict[str, Any], str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The hub's answer to the message named `request_hash`, checked; raises what the clerk must know.

        `parsed`: protocol.parse_envelope(raw) already made (_looks_plain), not parsed again.
        """
        try:
            body, sig = protocol.open_envelope(raw) if parsed is None else _declared(*parsed)
        except protocol.ProtocolError as exc:
            if status == 413:
                # Unsigned: a proxy's limit as likely as the hub's. Acted on only within bounds (_split).
                return status, {"unsigned": True}
            raise RefusedError(N_("中心回复无法识别（HTTP %(status)s）", status=status), "bad_response") from exc
        if not verify_hub(body, sig, raw):
            if status == 413:
                return status, {"unsigned": True}
            raise TrustError(N_("中心回复的签名无效，未采用（可能被冒充或篡改）"), "bad_hub_signature")
        if body.get("error") and body.get("request_hash") == "":
            if status == 413 and body["error"].get("code") == "too_large":
                # Signed by the hub, which refused the body before reading it (so it names no request).
                return 413, body
            if status == 429 and body["error"].get("code") == "rate_limited":
                raise BusyError(body["error"].get("message", N_("中心繁忙")), *hub_wait(body["error"]))
            raise RefusedError(body["error"].get("message", N_("中心拒绝了请求")), body["error"].get("code", "error"))
        err = body.get("error")
        if body.get("request_hash") != request_hash or body.get("node_id") not in (meta.get("node_id"), ""):
            if isinstance(err, dict) and err.get("code") in ("bad_body", "too_large"):
                # The hub refused bytes we did not send (cut or altered on the way): a link fault, send again.
                raise TransportError(N_("数据在传输中受损，中心未收下，稍后将原样重发"), "damaged_in_transit")
            raise TrustError(N_("中心回复与本次请求不对应，未采用"), "mismatched_response")
        if err:
            code = err.get("code", "error")
            message = err.get("message", N_("中心拒绝了请求"))
            if code in ("sequence_gap", "chain_broken"):
                return status, body
            if code == "too_large":
                return 413, body
            if code in ("fork", "revoked", "unknown_node", "bad_signature"):
                raise TrustError(message, code)
            if code == STALE_HELLO:
                note_hub_time(body)
            raise RefusedError(message, code)
        return status, body

    def send_raw(self, raw: bytes, request_hash: str) -> tuple[int, dict[str, Any]]:
        """Exchange already-signed bytes and verify the answer, as a round does (USB bundles use this)."""
        return self._exchange(raw, request_hash)

    def _poll(self, kind: str, cursor: int | None = None) -> dict[str, Any]:
        try:
            return self._poll_once(kind, cursor)
        except RefusedError as exc:
            if exc.code != STALE_HELLO:
                raise
            # Once more with a new nonce, on the hub's clock that the signed refusal showed.
            return self._poll_once(kind, cursor, hub_clock())

    def _poll_once(self, kind: str, cursor: int | None = None, clock: datetime | None = None) -> dict[str, Any]:
        # Our own clock by default, so the hub keeps seeing (and flagging) how far off it is.
        if cursor is None:
            # While rebuilding, our position is in the hub's new log, never the old cursor past its end.
            rebuilding = reconcile.pending()
            cursor = int(rebuilding["next"]) if rebuilding else int(meta.get("cursor", 0))
        body = protocol.poll_body(
            meta.get("node_id"),
            cursor,
            kind=kind,
            acked_seq=int(meta.get("acked_seq", 0)),
            catalogue_version=int(meta.get("catalogue_version", 0)),
            app_version=outbox.APP_VERSION,
            pending=outbox.queued_count(),
            clock=clock,
        )
        status, resp = self._exchange(protocol.seal(self.key, body), protocol.body_hash(body))
        if status == 413 or "last_seq" not in resp:
            # A poll is a few hundred bytes: whoever refused it as too large, it is not ours to split.
            raise TransportError(
                N_("中心或中间网络拒收了同步请求（HTTP %(status)s），稍后重试", status=status), "refused_small"
            )
        return resp

    def resume(self, report: SyncReport) -> None:
        """Ask the hub where this node stands and align to it before signing anything new."""
        position: Any = None
        for _ in range(MAX_POLLS):
            with _connected():
                resp = self._poll("hello")
                trace("apply", what="hello")
                # History first: a status update for a request restored from it must find the request.
                more = apply_resume(resp)
                counts = apply_response(resp, None)
                trace("applied", what="hello")
                report.updates += counts["updates"]
                progress.polled(resp, counts["updates"])
                # History pages move acked_seq, update pages the cursor.
                now_at = (meta.get("acked_seq"), meta.get("next_seq"), meta.get("cursor"), json_of(reconcile.pending()))
            if not more:
                break
            if reconcile.pending() is not None and position is not None and now_at[:2] == position[:2]:
                break  # history is complete; the rest are updates, which the rebuild fetches anew
            if now_at == position:
                raise RefusedError(N_("中心反复给出同一段历史记录，同步已停止；请联系乡镇管理员"), "stuck_resume")
            position = now_at
        self.resume_checked = True
        report.resumed = True

    def round(self, max_rounds: int = MAX_BATCHES) -> SyncReport:
        """Send everything queued and fetch every update; raises SyncError subclasses on trouble.

        Every loop is bounded and must make progress, so a round ends whatever the hub answers;
        a hub that keeps answering without progress becomes an error the clerk sees.
        """
        # One connection for the whole round: opening one per step cost a fresh page cache and,
        # on closing the last one, a WAL checkpoint each time (docs/performance.md, "CPU per request").
        trace("round")
        own = database.is_closed()
        if own:
            database.connect()
        try:
            return self._round(max_rounds)
        finally:
            if own and not database.is_closed():
                database.close()
            trace("round_end")

    def _round(self, max_rounds: int) -> SyncReport:
        report = SyncReport()
        self._resumes = 0
        with _connected():
            progress.begin("sync", *progress.queued_totals())
        stopped: str | None = N_("同步中断")
        try:
            if not self.resume_checked:
                self._resume_once(report)
            self._send_all(report, max_rounds)
            if not self._caught_up():
                self._poll_all(report)
            if not self.resume_checked:
                # The polls showed a hub that lost our events: align and send them again now.
                self._resume_once(report)
                self._send_all(report, max_rounds)
            # After the polls, so a long upload never delays the status the clerk is waiting for.
            report.attachments += upload_pending(self.transport, self.key)
            stopped = None
        except SyncError as exc:
            stopped = exc.message
            with _connected():
                with database.atomic():
                    meta.put("last_error", exc.message)
                    meta.put("last_error_at", protocol.iso(protocol.utcnow()))
            log.warning("sync round stopped: %s (%s)", exc.message, exc.code)
            raise
        finally:
            progress.finish(stopped)
        return report

    def _resume_once(self, report: SyncReport) -> None:
        self._resumes += 1
        if self._resumes > MAX_RESUMES:
            raise RefusedError(N_("与中心核对进度多次仍不一致，同步已停止；请联系乡镇管理员"), "stuck_resume")
        self.resume(report)

    def _send_all(self, report: SyncReport, max_batches: int) -> None:
        """Send every queued batch in chain order, the next one travelling while this answer is applied.

        A bounded pipeline of depth 2: at most one batch is at the hub while the node applies the
        answer before it. The hub still receives batch n+1 only after it answered batch n, so
        order, chain and acks are exactly the protocol's; see _send for when it overlaps.
        """
        ahead: _Flight | None = None
        self._complete_answer = False
        try:
            for _ in range(max_batches):
                if ahead is None:
                    trace("sign", what="batch")
                    packing = _Packing.of(self.transport)
                    with _connected():
                        batch = outbox.next_batch(
                            self.key, _batch_cap(), protocol.DEFAULT_BATCH_EVENTS, packing.start if packing else None
                        )
                    trace("signed", what="batch")
                    if batch is None:
                        return
                    ahead = _Flight(self.transport, batch, threaded=False, packing=packing)
                flight, ahead = ahead, None
                ahead = self._send(flight, report)
        finally:
            if ahead is not None:
                # Bound reached or a failure: its answer is not read; the batch stays pending and
                # goes again, byte for byte, in the next round (rule 6).
                ahead.settle()

    def _poll_all(self, report: SyncReport) -> None:
        """Fetch updates (or the hub's whole log while rebuilding it) until none remain."""
        position: Any = None
        for _ in range(MAX_POLLS):
            with _connected():
                state = reconcile.pending()
                if state is not None:
                    resp = self._poll("poll", cursor=int(state["next"]))
                    with database.atomic():
                        done = reconcile.apply_page(resp)
                        hub_lost = resp["last_seq"] < int(meta.get("acked_seq", 0))
                    if done:
                        report.reconciled += 1
                    more, gap = not done, 0
                else:
                    resp = self._poll("poll")
                    trace("apply", what="poll")
                    counts = apply_response(resp, None)
                    trace("applied", what="poll")
                    report.updates += counts["updates"]
                    progress.polled(resp, counts["updates"])
                    hub_lost, gap = bool(counts["hub_lost"]), counts["gap"]
                    more = bool(resp.get("more")) or bool(counts["reconcile"])
                now_at = (meta.get("cursor"), json_of(reconcile.pending()))
            if hub_lost:
                self.resume_checked = False
            if gap and not more:
                raise RefusedError(N_("中心发来的办理状态不连续，已停止接收；请联系乡镇管理员"), "update_gap")
            if not more:
                return
            if now_at == position:
                raise RefusedError(
                    N_("中心的回复没有进展（状态更新停在同一处），同步已停止；请联系乡镇管理员"), "stuck_updates"
                )
            position = now_at

    def _send(self, flight: "_Flight", report: SyncReport) -> "_Flight | None":
        """Take one batch's answer and apply it; returns the next batch, already on its way, if any.

        Only a plain answer (node.apply.cursor_after) lets the next batch be signed before this
        one is applied, naming the cursor the node will then hold; it travels (and the hub
        ingests it) while this answer is applied. Any other answer, and any failure, is handled
        one step at a time as before: a batch whose answer was not applied stays pending and is
        re-sent as signed, which the hub answers from its stored ack.
        """
        batch = flight.batch
        self._complete_answer = False
        draft = None
        packing = _Packing.of(self.transport)
        if flight.travelling:
            # The node would only wait here: encode and number the events after this batch meanwhile
            # (outbox.draft; the numbers stand only if the answer is plain and the queue unchanged),
            # then sign and compress them on the cursor the answer is expected to leave (_draft_signed).
            try:
                with _connected():
                    draft = outbox.draft(_batch_cap(), protocol.DEFAULT_BATCH_EVENTS)
                    self._draft_signed(draft, batch, packing)
            except peewee.OperationalError as exc:
                # A busy database (a capture holding the write lock): drafting is only a head start, and
                # the batch in flight must still be answered; the next batch is cut after it, as before.
                log.info("next batch not drafted ahead: %s", exc)
            trace("drafted")
        ahead: _Flight | None = None
        try:
            status, raw = flight.answer()
            early = _looks_plain(status, raw, batch.hash)
            check = functools.cache(functools.partial(self._verify, status, raw, batch.hash, early))
            if early is not None:
                # Cut and signed from the answer as parsed; its checks run while the batch is
                # compressed, before anything is stored or sent (outbox._cut's `checked`).
                ahead = self._sign_ahead(early[0], batch, draft, check, packing)
            status, resp = check()
        except SyncError as exc:
            if packing is not None:
                packing.wait()
            with _connected():
                outbox.record_attempt(batch, exc.message)
                outbox.drop_draft()
            raise
        # A plain 200 records its attempt with the answer it brought (one commit less before the
        # next batch leaves); any other answer records it at once, as it is acted on now.
        plain = status == 200 and not resp.get("error")
        if not plain:
            with _connected():
                # Step by step from here: the events numbered ahead go back to the queue (outbox.draft).
                outbox.drop_draft()
                outbox.record_attempt(batch, f"HTTP {status}" if status != 200 else None)
                if status == 413:
                    self._split(batch, report, signed=not resp.get("unsigned"))
                    return None
                if resp.get("error"):
                    # The hub's chain differs from ours: it is the authority, so align and go on.
                    self.resume_checked = False
        if resp.get("error"):
            self._resume_once(report)
            return None
        if plain and early is None:
            ahead = self._sign_ahead(resp, batch, draft, packing=packing)
        try:
            trace("apply", what="batch")
            with _connected(), database.atomic():
                if plain:
                    outbox.record_attempt(batch, None)
                sent = progress.batch_totals(batch.id)
                counts = apply_response(resp, batch)
                _restore_cap()
                trace("commit")  # the transaction's commit (and SQLite's WAL checkpoint when due) follows
            trace("applied", what="batch")
        except BaseException:
            if ahead is not None:
                ahead.settle()
            raise
        progress.advance(*sent)
        report.batches += 1
        report.acked += counts["acked"]
        report.refused += counts["refused"]
        report.updates += counts["updates"]
        if counts["reconcile"] or counts["hub_lost"]:
            self.resume_checked = False
        # An answer that carried every update the hub held (`more` false) and continued our log.
        self._complete_answer = (
            status == 200 and not resp.get("more") and not any(counts[k] for k in ("reconcile", "hub_lost", "gap"))
        )
        return ahead

    def _caught_up(self) -> bool:
        """True when the round's last exchange was a batch whose answer left no update to fetch.

        Its answer carried the village's updates from our cursor to the end of the hub's log
        (`more` false, docs/protocol.md), applied in order: a poll right after would find
        nothing and cost a round trip (0.5 s over 2G). Any other case polls as before.
        """
        if not self._complete_answer:
            return False
        with _connected():
            return reconcile.pending() is None

    def _draft_signed(self, draft: outbox.Draft, batch: Batch, packing: "_Packing | None") -> None:
        """Sign the drafted batch while `batch` travels, on the cursor its answer should leave, and compress it.

        The guess: the node's cursor moved by one update per event of `batch` (the hub answers each
        capture with its status; with nothing else new in the village's log, that is the cursor the
        answer leaves). Right, the next batch leaves as soon as the answer is checked and the batch
        stored; wrong, the cut signs and compresses it again as before (outbox.sign_ahead, _cut).
        """
        in_flight = batch.last_seq - batch.first_seq + 1
        expected = int(meta.get("cursor", 0)) + in_flight
        outbox.sign_ahead(self.key, draft, in_flight, expected, packing.start if packing else None)

    def _sign_ahead(
        self,
        resp: dict[str, Any],
        batch: Batch,
        draft: outbox.Draft | None = None,
        check: Callable[[], object] | None = None,
        packing: "_Packing | None" = None,
    ) -> "_Flight | None":
        """The batch after `batch`, signed on the cursor `resp` will leave and sent; None to go step by step.

        `check`: the answer's checks when `resp` is not yet checked. They run once the next batch is
        signed (outbox._cut, while it is compressed), and in any case before it leaves; when they
        raise, nothing of the cut was stored. `packing`: where the draft's body signed ahead is
        being compressed (_draft_signed); a batch signed now is compressed there too.
        """
        trace("sign", what="ahead")
        if packing is None:
            packing = _Packing.of(self.transport)
        try:
            with _connected():
                try:
                    cursor = cursor_after(resp, batch)
                except (AttributeError, KeyError, TypeError, ValueError):
                    if check is None:
                        raise
                    cursor = None  # not as declared: the checks say why
                if cursor is None:
                    return None
                nxt = outbox.batch_after(
                    self.key,
                    _batch_cap(),
                    protocol.DEFAULT_BATCH_EVENTS,
                    batch,
                    cursor,
                    draft,
                    packing.start if packing else None,
                    check,
                )
                if check is not None:
                    check()  # a pending batch goes as it was signed, but not before the answer is checked
        except BaseException:
            if packing is not None:
                packing.wait()
            raise
        trace("signed", what="ahead" if nxt is not None else "none")
        if nxt is None:
            if packing is not None:
                packing.wait()  # nothing was signed, or nothing to send: only let its thread end
            return None
        return _Flight(self.transport, nxt, threaded=bool(getattr(self.transport, "overlaps", False)), packing=packing)

    def _split(self, batch: Batch, report: SyncReport, signed: bool) -> None:
        """413: halve the byte cap and re-cut, or set a lone event aside only when it is truly too large.

        The hub signs its 413; an unsigned one may come from any proxy, so it lowers the cap no
        further than UNSIGNED_413_FLOOR and never quarantines an event that fits the documented limit.
        """
        limit = int(meta.get("batch_bytes", protocol.DEFAULT_BATCH_BYTES))
        floor = protocol.MIN_BATCH_BYTES if signed else UNSIGNED_413_FLOOR
        lone = batch.first_seq == batch.last_seq
        if lone or limit <= floor:
            if signed and lone or _too_large_anyway(batch):
                outbox.quarantine_oversized(batch, N_("单条记录过大，中心拒收，已隔离，请联系管理员"))
                report.quarantined += 1
                return
            raise TransportError(
                N_(
                    "中心或中间网络以“数据过大”拒收（HTTP 413，未签名）；这些记录未超过规定大小，"
                    "不会被隔离，稍后自动重试；若一直如此请联系乡镇管理员检查代理设置"
                ),
                "unsigned_413",
            )
        with database.atomic():
            meta.put("batch_bytes", max(floor, limit // 2))
            meta.put("batch_bytes_signed", signed)
        outbox.unbatch(batch)
        report.split += 1


class _Packing:
    """A batch's envelope compressed in a thread from the moment it is signed, while it is stored.

    Storing a batch (its row, its events' numbers, the commit and its fsync) and compressing it
    (zstd, which lets go of the GIL) both stand between an answer and the next upload while the hub
    has nothing to do: side by side they take the longer of the two instead of both. Only bytes
    are compressed here (HttpTransport.pack_ahead keeps them for the exchange that sends these very
    bytes); nothing leaves before the batch is committed (_Flight sends it after). A transport
    that cannot compress ahead gets none.
    """

    def __init__(self, pack_ahead: Callable[[bytes], None]):
        self._pack_ahead = pack_ahead
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, transport: Transport) -> "_Packing | None":
        pack_ahead = getattr(transport, "pack_ahead", None)
        return cls(pack_ahead) if pack_ahead is not None and getattr(transport, "overlaps", False) else None

    def start(self, envelope: bytes) -> None:
        """Compress `envelope` in a thread (outbox calls this as it signs a batch).

        A compression started before (a body signed ahead and not taken) ends first: the transport
        keeps the latest body packed, which must be this one.
        """
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(envelope,), name="daiban-sync-pack", daemon=True)
        self._thread.start()

    def _run(self, envelope: bytes) -> None:
        with contextlib.suppress(Exception):  # the exchange then compresses the body itself
            self._pack_ahead(envelope)

    def wait(self) -> None:
        """Until the compression has ended (the exchange then finds its bytes)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class _Flight:
    """One batch on its way to the hub: in a worker thread when the transport allows, else at once.

    The worker only carries bytes (compression and HTTP); every database read and write stays
    in the thread that runs the round. `packing`: the batch's bytes already being compressed.
    """

    def __init__(self, transport: Transport, batch: Batch, threaded: bool, packing: _Packing | None = None):
        self.batch = batch
        self._outcome: tuple[int, bytes] | BaseException | None = None
        body = bytes(batch.envelope)
        self._leaving = threading.Event()
        if threaded:
            self._thread: threading.Thread | None = threading.Thread(
                target=self._carry, args=(transport, body, packing), name="daiban-sync-ahead", daemon=True
            )
            self._thread.start()
            # The hub has nothing to do until this batch leaves: the round's thread goes on to the
            # answer before it (GIL-bound work) only once the worker has its bytes and is posting,
            # instead of the worker waiting for the GIL at each step of its way out.
            self._leaving.wait()
        else:
            self._thread = None
            self._carry(transport, body, packing)

    def _carry(self, transport: Transport, body: bytes, packing: _Packing | None) -> None:
        try:
            if packing is not None:
                packing.wait()
            self._leaving.set()
            self._outcome = transport.exchange(SYNC_PATH, body)
        except BaseException as exc:  # noqa: BLE001 - handed to the round's thread by answer()
            self._outcome = exc
        finally:
            self._leaving.set()

    def answer(self) -> tuple[int, bytes]:
        """(status, body bytes) from the hub, or the transport's exception raised here."""
        self.settle()
        outcome = self._outcome
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        return outcome

    @property
    def travelling(self) -> bool:
        """True while the exchange runs in the worker thread (the round would wait for it)."""
        return self._thread is not None and self._thread.is_alive()

    def settle(self) -> None:
        """Wait until the exchange has ended (answered or failed)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None


@contextlib.contextmanager
def _connected() -> Iterator[None]:
    """A connection for one step of a round: the round's own when it holds one, else one for this step."""
    if not database.is_closed():
        yield
        return
    with database.connection_context():
        yield


@contextlib.contextmanager
def collected_apart() -> Iterator[None]:
    """The garbage collector leaves the objects that existed before this block alone during it.

    For a process that exists to run a round (`daiban node sync`, bench/node_sync_driver.py), not
    for SyncClient.round itself: the node's web process runs its rounds in a background thread
    beside the clerk's requests, and freezing there would hide every object the whole process
    holds from the collector while the round lasts (its other threads' cyclic garbage too).

    A round allocates tens of thousands of objects per batch (answers, events), which trigger
    full collections that walked everything the process holds (the app, its modules): 8 % of the
    node's CPU in bench.sync_link e2e, a third of that with them frozen (docs/performance.md).
    Frozen objects go back to the collector when the block ends, so cyclic garbage among them
    is collected then; nothing else changes.

    The youngest generation is collected every ROUND_GEN0 allocations instead of 700: a batch's
    answer and events are freed by their counts within the batch, so most are never walked at
    all, where every 700 allocations walked those still alive and moved them on to the older
    generations' collections. Cyclic garbage is still collected, only later.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(ROUND_GEN0, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


# Allocations between two collections of the youngest generation during a round (collected_apart).
ROUND_GEN0 = 50_000


def _looks_plain(status: int, raw: bytes, request_hash: str) -> tuple[dict[str, Any], str] | None:
    """The answer's (body, signature) parsed but not yet checked, when it looks like a plain answer; else None.

    Plain-looking: HTTP 200, a response naming the batch sent, no error. The next batch may then be
    cut from it before its declared types and signature are checked (SyncClient._sign_ahead's
    `check`); anything else is checked first, as before.
    """
    if status != 200:
        return None
    try:
        body, sig = protocol.parse_envelope(raw)
    except protocol.ProtocolError:
        return None
    if body.get("kind") != "response" or body.get("request_hash") != request_hash or "error" in body:
        return None
    return body, sig


def _declared(body: dict[str, Any], sig: str) -> tuple[dict[str, Any], str]:
    """The rest of protocol.open_envelope for an envelope already parsed: version and declared types."""
    protocol.check_version(body)
    protocol.declared(body, messages.validate_body)
    return body, sig


def _batch_cap() -> int:
    """The byte cap the next batch is cut at (lowered by 413s, node/sync._split)."""
    return int(meta.get("batch_bytes", protocol.DEFAULT_BATCH_BYTES))


def _too_large_anyway(batch: Batch) -> bool:
    """A lone event whose signed batch would exceed the hub's documented limit even compressed."""
    if batch.first_seq != batch.last_seq:
        return False
    raw = bytes(batch.envelope)
    return len(encoding.compress(raw)) > protocol.MAX_BODY_BYTES or len(raw) > protocol.MAX_INFLATED_BYTES


def _restore_cap() -> None:
    """After a batch got through: back to the full cap if only unsigned 413s lowered it, else double it."""
    limit = int(meta.get("batch_bytes", protocol.DEFAULT_BATCH_BYTES))
    if limit >= protocol.DEFAULT_BATCH_BYTES:
        return
    with database.atomic():
        meta.put(
            "batch_bytes",
            protocol.DEFAULT_BATCH_BYTES
            if not meta.get("batch_bytes_signed")
            else min(protocol.DEFAULT_BATCH_BYTES, limit * 2),
        )


def json_of(value: Any) -> str:
    """A value as comparable text (progress checks)."""
    return encoding.canonical(value).decode() if value is not None else ""


__all__ = ["SyncClient", "SyncReport", "SyncError", "TransportError", "RefusedError", "TrustError"]
