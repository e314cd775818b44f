"""USB bundles at the hub: open a node's bundle, feed every message to handle_sync, seal the answers back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared import bundle, protocol
from shared.bundle import BundleError
from shared.china_time import beijing_time

from .attachments import store_complete
from .clock import now
from .db import database
from .ingest import handle_sync
from .keys import rotation_chain
from .models import BundleImport, Node, NodeBoxKey
from .nodeauth import trusted_node

# What the officer reads when the sending node is not trusted (nodeauth.trusted_node's codes).
REFUSALS = {
    "unknown_node": "数据包来自未在本中心登记的代办点（或文件已损坏），未导入",
    "revoked": "该代办点已被停用，数据包未导入",
    "bad_signature": "数据包签名无效，可能被篡改，未导入",
}


@dataclass
class ImportResult:
    """What importing a bundle did, and the response bundle to carry back."""

    node: Node
    response: bytes
    messages: int
    accepted: int
    refused: int
    errors: list[str]
    attachments: int
    replayed_at: datetime | None = None

    def summary(self) -> str:
        """One line in Chinese for the officer."""
        if self.replayed_at is not None:
            when = beijing_time(self.replayed_at, labelled=True)
            return f"此数据包已于 {when}导入过，本次未做任何更改（已重新写出当时的回复包）"
        return (
            f"{self.node.village.name}：处理消息 {self.messages} 条，接收事件 {self.accepted}，"
            f"退回 {self.refused}，收到附件 {self.attachments}"
        )


def import_bundle(
    raw: bytes, data_dir: str | Path, hub_key: Ed25519PrivateKey, hub_box: X25519PrivateKey
) -> ImportResult:
    """Verify, decrypt and ingest a node's bundle through handle_sync; BundleError (nothing changed) if unusable."""
    header, _ = bundle.read_header(raw)
    verified: list[bundle.Opened] = []

    def verify(node: Node) -> bool:
        # open_bundle checks the signature under the node's key and raises BundleError itself.
        verified.append(
            bundle.open_bundle(
                raw, direction=bundle.TO_HUB, recipient="hub", box_key=hub_box, sender_pubkey=node.pubkey
            )
        )
        return True

    try:
        node = trusted_node(header["sender"][:40], verify)
    except protocol.ProtocolError as exc:
        raise BundleError(exc.code, REFUSALS[exc.code]) from exc
    opened = verified[0]
    done = BundleImport.get_or_none(BundleImport.bundle_id == opened.header["bundle_id"][:40])
    if done is not None:
        return ImportResult(node, bytes(done.response), done.messages, 0, 0, [], 0, replayed_at=done.imported_at)
    box_row = NodeBoxKey.get_or_none(NodeBoxKey.node == node)
    if box_row is None:
        raise BundleError("no_node_box_key", "该代办点注册时未提供加密公钥，无法写回复包；请让代办点重新注册")
    messages = opened.payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bundle.fail("bad_format", "没有消息")
    raws = [bundle.decode_blob(m) for m in messages]
    blobs = [
        (a.get("sha256"), bundle.decode_blob(a.get("data")))
        for a in opened.payload.get("attachments") or []
        if isinstance(a, dict)
    ]
    responses = []
    accepted = refused = 0
    errors: list[str] = []
    # Each message commits on its own, exactly as over HTTP; a re-import is answered from the stored acks.
    for msg in raws:
        # The bundle is sealed to the hub's box key and imported once by id: its hello may be days old.
        status, out = handle_sync(msg, hub_key, fresh_hello=False)
        body = protocol.open_envelope(out)[0]
        ack = body.get("ack") or {}
        accepted += int(ack.get("accepted", 0))
        refused += len(ack.get("results", []))
        if body.get("error"):
            errors.append(body["error"].get("message", ""))
        responses.append({"status": status, "raw": bundle.encode_blob(out)})
    held = {}
    for sha, data in blobs:
        if isinstance(sha, str):
            held[sha] = store_complete(data_dir, node, sha, data)
    response = bundle.seal(
        {"responses": responses, "attachments": held},
        direction=bundle.TO_NODE,
        sender="hub",
        recipient=node.node_id,
        recipient_box_pub=box_row.pubkey,
        signing_key=hub_key,
        in_reply_to=opened.header["bundle_id"],
        extra_header={"key_rotation": chain} if (chain := rotation_chain()) else None,
    )
    with database.atomic():
        BundleImport.create(
            bundle_id=opened.header["bundle_id"][:40],
            node=node,
            imported_at=now(),
            messages=len(raws),
            response=response,
        )
    return ImportResult(node, response, len(raws), accepted, refused, errors, sum(held.values()))
