"""USB bundles at the node: export the exact bytes HTTP sync would send, apply the hub's answers the same way.

Export signs a hello, every pending batch (cut by node.outbox.next_batch, as a sync
round would) and a poll, and encrypts them with the attachments the hub lacks to the
hub's box key.  Import opens the hub's response bundle and feeds each answer through
SyncClient's verification (a BundleTransport replays the answers) and node.apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared import bundle, protocol
from shared.bundle import BundleError
from shared.china_time import beijing_time

from . import meta, outbox, progress, reconcile
from .apply import apply_resume, apply_response
from .attachments import mark_uploaded, path_for
from .capture import now
from .db import database
from .models import Attachment, Batch, BundleExport, Event
from .sync import SyncClient
from .transport import SyncError
from shared.msgid import N_

BOX_KEY_FILE = "node_box_key.pem"


def box_key(data_dir: str | Path) -> X25519PrivateKey:
    """This node's X25519 key for receiving response bundles, made on first use (0600)."""
    return bundle.load_or_create_box_key(Path(data_dir) / BOX_KEY_FILE)


class BundleTransport:
    """A Transport that answers from a hub response bundle instead of the network."""

    def __init__(self, answers: dict[str, tuple[int, bytes]]):
        self.answers = answers

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        """The hub's stored answer to exactly these bytes; RefusedError-like SyncError when there is none."""
        try:
            request_hash = protocol.body_hash(protocol.open_envelope(body)[0])
        except protocol.ProtocolError as exc:
            raise SyncError(N_("数据包中的消息无法识别"), "bad_body") from exc
        if request_hash not in self.answers:
            raise SyncError(N_("回复包中没有这条消息的回复"), "missing_answer")
        return self.answers[request_hash]


@dataclass
class ExportResult:
    """What went into a bundle file."""

    bundle_id: str
    batches: int
    events: int
    attachments: int
    size: int


@dataclass
class ImportResult:
    """What applying a response bundle changed."""

    acked: int = 0
    refused: int = 0
    updates: int = 0
    attachments: int = 0
    messages: list[str] = field(default_factory=list)
    batches: int = 0  # exported batches the hub answered and this import applied (a sync round's count)

    def summary(self) -> str:
        """One line in Chinese."""
        return N_(
            "中心确认事件 %(acked)s（退回 %(refused)s），收到状态更新 %(updates)s，中心已收附件 %(attachments)s",
            acked=self.acked,
            refused=self.refused,
            updates=self.updates,
            attachments=self.attachments,
        )


def _poll(key: Ed25519PrivateKey, kind: str, cursor: int | None = None) -> bytes:
    body = protocol.poll_body(
        meta.get("node_id"),
        int(meta.get("cursor", 0)) if cursor is None else cursor,
        kind=kind,
        acked_seq=int(meta.get("acked_seq", 0)),
        catalogue_version=int(meta.get("catalogue_version", 0)),
        app_version=outbox.APP_VERSION,
        pending=outbox.queued_count(),
    )
    return protocol.seal(key, body)


def _pending_batches(key: Ed25519PrivateKey) -> list[Batch]:
    """Every pending batch, cutting new ones from unsigned events with next_batch as a sync round does."""
    limit = int(meta.get("batch_bytes", protocol.DEFAULT_BATCH_BYTES))
    batches: list[Batch] = []
    while True:
        batch = outbox.next_batch(key, limit, protocol.DEFAULT_BATCH_EVENTS)
        if batch is None:
            break
        batches.append(batch)
        progress.advance(*progress.batch_totals(batch.id))
        # next_batch hands out the oldest pending batch; hiding each one until the end of this
        # transaction lets it cut the next, exactly as an ack would during an HTTP round.
        Batch.update(state="exporting").where(Batch.id == batch.id).execute()
    if batches:
        Batch.update(state="pending").where(Batch.id.in_([b.id for b in batches])).execute()
    return batches


def export_bundle(key: Ed25519PrivateKey, path: str | Path) -> ExportResult:
    """Write the node's pending batches, a hello and a poll, and unsent attachments to an encrypted bundle file."""
    result, raw = build_bundle(key)
    _write_file(Path(path), raw)
    return result


def build_bundle(key: Ed25519PrivateKey) -> tuple[ExportResult, bytes]:
    """The bundle bytes and what is in them (the web UI offers these as a download)."""
    progress.begin("export", *progress.queued_totals())
    try:
        built = _build_bundle(key)
    except BaseException as exc:
        progress.finish(getattr(exc, "message", None) or N_("导出中断"))
        raise
    progress.finish()
    return built


def _build_bundle(key: Ed25519PrivateKey) -> tuple[ExportResult, bytes]:
    if not meta.get("node_id"):
        raise BundleError("not_enrolled", N_("本代办点尚未注册，不能导出数据包"))
    hub_box = meta.get("hub_box_pubkey")
    if not hub_box:
        raise BundleError("no_hub_box_key", N_("注册时中心未提供数据包加密公钥，请升级中心后重新注册"))
    bundle_id = protocol.new_id()
    with database.atomic():
        hello = _poll(key, "hello")
        batches = _pending_batches(key)
        # While this village's copy of the hub's log is being rebuilt (node/reconcile.py), the poll
        # fetches the next page of it; one page travels per bundle.
        rebuilding = reconcile.pending()
        poll = _poll(key, "poll", int(rebuilding["next"]) if rebuilding else None)
        sent = {e.event_id for b in batches for e in Event.select(Event.event_id).where(Event.batch == b.id)}
        atts = [
            a
            for a in Attachment.select().where(Attachment.uploaded_at.is_null()).order_by(Attachment.id)
            if a.event_id in sent or _event_acked(a.event_id)
        ]
        shas = sorted({a.sha256 for a in atts})
        messages: list[dict[str, Any]] = [
            {
                "kind": "hello",
                "hash": protocol.body_hash(protocol.open_envelope(hello)[0]),
                "raw": bundle.encode_blob(hello),
            }
        ]
        messages += [{"kind": "batch", "hash": b.hash} for b in batches]
        messages.append(
            {
                "kind": "rebuild" if rebuilding else "poll",
                "hash": protocol.body_hash(protocol.open_envelope(poll)[0]),
                "raw": bundle.encode_blob(poll),
                **({"position": int(rebuilding["next"])} if rebuilding else {}),
            }
        )
        payload = {
            "messages": [bundle.encode_blob(hello)]
            + [bundle.encode_blob(bytes(b.envelope)) for b in batches]
            + [bundle.encode_blob(poll)],
            "attachments": [{"sha256": s, "data": bundle.encode_blob(path_for(s).read_bytes())} for s in shas],
        }
        raw = bundle.seal(
            payload,
            direction=bundle.TO_HUB,
            sender=meta.get("node_id"),
            recipient="hub",
            recipient_box_pub=hub_box,
            signing_key=key,
            bundle_id=bundle_id,
        )
        BundleExport.create(bundle_id=bundle_id, messages=messages, attachments=shas, created_at=now())
    return ExportResult(
        bundle_id, len(batches), sum(b.last_seq - b.first_seq + 1 for b in batches), len(shas), len(raw)
    ), raw


def _event_acked(event_id: str) -> bool:
    ev = Event.get_or_none(Event.event_id == event_id)
    return ev is not None and ev.result == "ok"


def _write_file(path: Path, raw: bytes) -> None:
    """Write the bundle whole or not at all (a USB stick pulled early leaves no half file)."""
    import os

    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def import_response(raw: bytes, key: Ed25519PrivateKey, box: X25519PrivateKey) -> ImportResult:
    """Verify and apply the hub's response bundle once; BundleError (nothing changed) when it cannot be used."""
    progress.begin("import", 0, len(raw))
    try:
        result = _import_response(raw, key, box)
    except BaseException as exc:
        progress.finish(getattr(exc, "message", None) or N_("导入中断"))
        raise
    progress.finish()
    return result


def _import_response(raw: bytes, key: Ed25519PrivateKey, box: X25519PrivateKey) -> ImportResult:
    node_id = meta.get("node_id")
    try:
        # A hub key rotated since our last contact is accepted only along the chain the old key signed.
        header, _ = bundle.read_header(raw)
        sender = protocol.follow_rotations(meta.get("hub_pubkey", ""), header.get("key_rotation"))
        opened = bundle.open_bundle(raw, direction=bundle.TO_NODE, recipient=node_id, box_key=box, sender_pubkey=sender)
    except BundleError as exc:
        if exc.code == "wrong_recipient":
            raise BundleError("wrong_recipient", N_("此回复包是发给其他代办点的，未导入")) from exc
        raise
    progress.advance(0, len(raw))  # read, checked and decrypted: what is left is applying it
    export = BundleExport.get_or_none(BundleExport.bundle_id == str(opened.header.get("in_reply_to")))
    if export is None:
        raise BundleError("unknown_bundle", N_("此回复包不对应本代办点导出过的任何数据包，未导入"))
    if export.imported_at is not None:
        when = beijing_time(export.imported_at, labelled=True)
        raise BundleError("replayed", N_("此回复包已于 %(when)s导入过，本次未做任何更改", when=when))
    answers: dict[str, tuple[int, bytes]] = {}
    for item in opened.payload.get("responses") or []:
        if not isinstance(item, dict) or not isinstance(item.get("status"), int):
            raise bundle.fail("bad_format", N_("回复格式错误"))
        resp_raw = bundle.decode_blob(item.get("raw"))
        try:
            resp_body = protocol.open_envelope(resp_raw)[0]
        except protocol.ProtocolError as exc:
            raise bundle.fail("bad_format", N_("回复格式错误")) from exc
        answers[str(resp_body.get("request_hash"))] = (item["status"], resp_raw)
    client = SyncClient(BundleTransport(answers), key)
    result = ImportResult()
    batches = [Batch.get_or_none(Batch.hash == m["hash"]) for m in export.messages if m["kind"] == "batch"]
    progress.more_work(sum(b.last_seq - b.first_seq + 1 for b in batches if b is not None))
    try:
        with database.atomic():
            for msg in export.messages:
                _apply_one(client, msg, result)
            for sha, held in (opened.payload.get("attachments") or {}).items():
                if held is True and sha in export.attachments:
                    mark_uploaded(sha)
                    result.attachments += 1
            BundleExport.update(imported_at=now()).where(BundleExport.bundle_id == export.bundle_id).execute()
    except SyncError as exc:
        raise BundleError(exc.code, N_("回复包未能导入，未做任何更改：%(why)s", why=exc.message)) from exc
    return result


def _apply_one(client: SyncClient, msg: dict[str, Any], result: ImportResult) -> None:
    """Apply the hub's answer to one exported message exactly as a sync round would."""
    if msg["kind"] == "batch":
        batch = Batch.get_or_none(Batch.hash == msg["hash"])
        if batch is None:
            return  # re-cut since the export (the hub refused it as too large); nothing to apply
        status, resp = client.send_raw(bytes(batch.envelope), batch.hash)
        if resp.get("error"):
            # The hub's chain differs from ours; an online sync (or a new bundle) will align first.
            result.messages.append(resp["error"].get("message", N_("中心要求核对进度")))
            return
        counts = apply_response(resp, batch)
        result.batches += 1
        result.acked += counts["acked"]
        result.refused += counts["refused"]
        result.updates += counts["updates"]
        progress.advance(batch.last_seq - batch.first_seq + 1)
        progress.polled(resp, counts["updates"])
        return
    status, resp = client.send_raw(bundle.decode_blob(msg["raw"]), msg["hash"])
    if msg["kind"] == "rebuild":
        state = reconcile.pending()
        # Only the page this bundle asked for: an online round may have gone further since.
        if state is not None and int(state["next"]) == msg.get("position"):
            reconcile.apply_page(resp)
        return
    updates = apply_response(resp, None)["updates"]
    result.updates += updates
    progress.polled(resp, updates)
    if msg["kind"] == "hello":
        apply_resume(resp)
