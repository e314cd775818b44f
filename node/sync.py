"""One sync round: ask where to resume (once per process), send batches, poll for updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import protocol

from . import meta, outbox
from .apply import apply_resume, apply_response
from .attachments import upload_pending
from .db import database
from .hubkey import STALE_HELLO, hub_clock, note_hub_time, verify_hub
from .models import Batch
from .transport import RefusedError, SyncError, Transport, TransportError, TrustError

SYNC_PATH = "/api/v1/sync"


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
    resumed: bool = False
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line in Chinese."""
        return (
            f"上传批次 {self.batches}，中心确认事件 {self.acked}（退回 {self.refused}），"
            f"收到状态更新 {self.updates}" + (f"，拆分 {self.split} 次" if self.split else "")
            + (f"，上传附件 {self.attachments} 个" if self.attachments else "")
        )


class SyncClient:
    """Talks to the hub through a transport; one per process so the resume check happens once."""

    def __init__(self, transport: Transport, key: Ed25519PrivateKey):
        self.transport = transport
        self.key = key
        self.resume_checked = False

    def _exchange(self, body_bytes: bytes, request_hash: str) -> tuple[int, dict[str, Any]]:
        status, raw = self.transport.exchange(SYNC_PATH, body_bytes)
        if status == 413:
            return status, {}
        try:
            body, sig = protocol.open_envelope(raw)
        except protocol.ProtocolError as exc:
            raise RefusedError(f"中心回复无法识别（HTTP {status}）", "bad_response") from exc
        if not verify_hub(body, sig):
            raise TrustError("中心回复的签名无效，未采用（可能被冒充或篡改）", "bad_hub_signature")
        if body.get("error") and body.get("request_hash") == "":
            raise RefusedError(body["error"].get("message", "中心拒绝了请求"), body["error"].get("code", "error"))
        if body.get("request_hash") != request_hash or body.get("node_id") not in (meta.get("node_id"), ""):
            raise TrustError("中心回复与本次请求不对应，未采用", "mismatched_response")
        err = body.get("error")
        if err:
            code = err.get("code", "error")
            message = err.get("message", "中心拒绝了请求")
            if code in ("sequence_gap", "chain_broken"):
                return status, body
            if code in ("fork", "revoked", "unknown_node", "bad_signature"):
                raise TrustError(message, code)
            if code == STALE_HELLO:
                note_hub_time(body)
            raise RefusedError(message, code)
        return status, body

    def send_raw(self, raw: bytes, request_hash: str) -> tuple[int, dict[str, Any]]:
        """Exchange already-signed bytes and verify the answer, as a round does (USB bundles use this)."""
        return self._exchange(raw, request_hash)

    def _poll(self, kind: str) -> dict[str, Any]:
        try:
            return self._poll_once(kind)
        except RefusedError as exc:
            if exc.code != STALE_HELLO:
                raise
            # Once more with a new nonce, on the hub's clock that the signed refusal showed.
            return self._poll_once(kind, hub_clock())

    def _poll_once(self, kind: str, clock: datetime | None = None) -> dict[str, Any]:
        # Our own clock by default, so the hub keeps seeing (and flagging) how far off it is.
        body = protocol.poll_body(
            meta.get("node_id"),
            int(meta.get("cursor", 0)),
            kind=kind,
            acked_seq=int(meta.get("acked_seq", 0)),
            catalogue_version=int(meta.get("catalogue_version", 0)),
            app_version=outbox.APP_VERSION,
            pending=outbox.queued_count(),
            clock=clock,
        )
        _, resp = self._exchange(protocol.seal(self.key, body), protocol.body_hash(body))
        return resp

    def resume(self, report: SyncReport) -> None:
        """Ask the hub where this node stands and align to it before signing anything new."""
        while True:
            with database.connection_context():
                resp = self._poll("hello")
                # History first: a status update for a request restored from it must find the request.
                more = apply_resume(resp)
                report.updates += apply_response(resp, None)["updates"]
            if not more:
                break
        self.resume_checked = True
        report.resumed = True

    def round(self, max_rounds: int = 10_000) -> SyncReport:
        """Send everything queued and fetch every update; raises SyncError subclasses on trouble."""
        report = SyncReport()
        try:
            if not self.resume_checked:
                self.resume(report)
            for _ in range(max_rounds):
                with database.connection_context():
                    limit = int(meta.get("batch_bytes", protocol.DEFAULT_BATCH_BYTES))
                    batch = outbox.next_batch(self.key, limit, protocol.DEFAULT_BATCH_EVENTS)
                if batch is None:
                    break
                self._send(batch, report)
            while True:
                with database.connection_context():
                    resp = self._poll("poll")
                    counts = apply_response(resp, None)
                    report.updates += counts["updates"]
                if not resp.get("more") and not counts["rewound"]:
                    break
            # After the polls, so a long upload never delays the status the clerk is waiting for.
            report.attachments += upload_pending(self.transport, self.key)
        except SyncError as exc:
            with database.connection_context():
                with database.atomic():
                    meta.put("last_error", exc.message)
                    meta.put("last_error_at", protocol.iso(protocol.utcnow()))
            raise
        return report

    def _send(self, batch: Batch, report: SyncReport) -> None:
        try:
            status, resp = self._exchange(bytes(batch.envelope), batch.hash)
        except SyncError as exc:
            with database.connection_context():
                outbox.record_attempt(batch, exc.message)
            raise
        with database.connection_context():
            outbox.record_attempt(batch, None if status == 200 else f"HTTP {status}")
            if status == 413:
                self._split(batch, report)
                return
            if resp.get("error"):
                # The hub's chain differs from ours: it is the authority, so align and go on.
                self.resume_checked = False
        if resp.get("error"):
            self.resume(report)
            return
        with database.connection_context():
            counts = apply_response(resp, batch)
        report.batches += 1
        report.acked += counts["acked"]
        report.refused += counts["refused"]
        report.updates += counts["updates"]

    def _split(self, batch: Batch, report: SyncReport) -> None:
        """The hub said 413: halve the byte cap and re-cut, or quarantine a lone oversized event."""
        limit = int(meta.get("batch_bytes", protocol.DEFAULT_BATCH_BYTES))
        if batch.first_seq == batch.last_seq:
            outbox.quarantine_oversized(batch, "单条记录过大，中心拒收，已隔离，请联系管理员")
            report.quarantined += 1
            return
        with database.atomic():
            meta.put("batch_bytes", max(protocol.MIN_BATCH_BYTES, limit // 2))
        outbox.unbatch(batch)
        report.split += 1


__all__ = ["SyncClient", "SyncReport", "SyncError", "TransportError", "RefusedError", "TrustError"]
