"""One-time enrolment codes, node registration and revocation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared import bundle, protocol, signing
from shared.receipt_codes import ALPHABET, node_prefix

from . import audit
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database
from .models import EnrolmentCode, Node, NodeBoxKey, Village

CODE_LIFETIME = timedelta(hours=24)


def _hash_code(code: str) -> str:
    # Only a hash is stored, so a database dump does not hand out live codes.
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def get_or_create_village(name: str) -> Village:
    """The village of that name, created with the next free receipt prefix."""
    village = Village.get_or_none(Village.name == name)
    if village:
        return village
    n = Village.select().count()
    return Village.create(name=name, prefix=node_prefix(n), created_at=now())


def issue_code(village_name: str, lifetime: timedelta = CODE_LIFETIME, actor: str = "cli") -> str:
    """A fresh one-time enrolment code for a village, valid for `lifetime`."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(10))
    with database.atomic():
        village = get_or_create_village(village_name)
        EnrolmentCode.create(
            code_hash=_hash_code(code), village=village, created_at=now(), expires_at=now() + lifetime
        )
        audit.record(actor, "node.code_issued", village.name, {"hours": lifetime.total_seconds() / 3600})
    return f"{code[:5]}-{code[5:]}"


def enroll(code: str, pubkey: str, app_version: str, hub_key: Ed25519PrivateKey, *,
           box_pubkey: Any = None, hub_box_key: X25519PrivateKey | None = None) -> dict[str, Any]:
    """Register a node's key with a one-time code; the answer carries the hub keys to pin."""
    try:
        signing.load_public(pubkey)
        if box_pubkey is not None:
            bundle.load_box_public(box_pubkey)
    except Exception as exc:
        raise protocol.error("bad_body", detail="pubkey or box_pubkey is not a valid public key") from exc
    normal = code.replace("-", "").replace(" ", "")
    with database.atomic():
        row = EnrolmentCode.get_or_none(EnrolmentCode.code_hash == _hash_code(normal))
        if row is None or row.used_at is not None or row.expires_at < now():
            raise protocol.error("bad_code")
        row.used_at = now()
        row.save()
        village = row.village
        node = Node.get_or_none(Node.village == village)
        if node is not None and node.status == "active":
            # A village has one node; replacing it needs the old one revoked first.
            raise protocol.error("bad_code", detail="village already has an active node; revoke it first")
        if node is None:
            node = Node.create(
                node_id=protocol.new_id(),
                village=village,
                pubkey=pubkey,
                fingerprint=signing.fingerprint(pubkey),
                enrolled_at=now(),
                last_hash=protocol.GENESIS_HASH,
                app_version=app_version,
            )
        else:
            # A replacement PC takes over the village's chain with a new key and restores history.
            node.pubkey = pubkey
            node.fingerprint = signing.fingerprint(pubkey)
            node.status = "active"
            node.enrolled_at = now()
            node.revoked_at = None
            node.app_version = app_version
            node.save()
        audit.record(node.node_id, "node.enrolled", village.name, {"fingerprint": node.fingerprint})
        if box_pubkey is not None:
            NodeBoxKey.insert(node=node, pubkey=box_pubkey).on_conflict(
                conflict_target=[NodeBoxKey.node], update={NodeBoxKey.pubkey: box_pubkey}
            ).execute()
        else:
            # A replacement PC without a box key must not get replies sealed to the old PC's key.
            NodeBoxKey.delete().where(NodeBoxKey.node == node).execute()
    hub_pub = signing.public_b64(hub_key)
    answer = {
        "v": protocol.PROTOCOL_VERSION,
        "kind": "enrolment",
        "node_id": node.node_id,
        "village": village.name,
        "prefix": village.prefix,
        "hub_pubkey": hub_pub,
        "hub_fingerprint": signing.fingerprint(hub_pub),
        "last_seq": node.last_seq,
        "last_hash": node.last_hash,
        "catalogue": current_catalogue().to_dict(),
    }
    if hub_box_key is not None:
        answer["hub_box_pubkey"] = bundle.box_public_b64(hub_box_key)
    return answer


def revoke(village_name: str, actor: str = "cli") -> Node:
    """Stop accepting anything signed by the village's current node key, at once."""
    with database.atomic():
        node = Node.select().join(Village).where(Village.name == village_name).get_or_none()
        if node is None:
            raise LookupError(village_name)
        node.status = "revoked"
        node.revoked_at = now()
        node.save()
        audit.record(actor, "node.revoked", village_name, {"fingerprint": node.fingerprint})
    return node
