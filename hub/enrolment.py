"""One-time enrolment codes, node registration (enrolment v2, SPAKE2) and revocation.

The code's secret part never travels: `shared.enrolment` runs SPAKE2 with it. The node sends
`enrol.start` (code id, its keys, its SPAKE2 message); the hub answers `enrol.challenge` with its
SPAKE2 message, its keys and a confirmation only a holder of the code can compute; the node checks
that before sending `enrol.confirm`, and only a matching confirmation registers the node's key.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from flask_babel import gettext as _

from shared import bundle, messages, protocol, signing
from shared import enrolment as wire
from shared.receipt_codes import MAX_VILLAGE, node_prefix

from . import audit
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database, is_postgres
from .models import EnrolmentCode, EnrolmentSecret, Node, NodeBoxKey, Village

CODE_LIFETIME = timedelta(hours=24)

# Said to a node that still speaks enrolment v1 (code in clear): the fix is on the node's side.
NODE_TOO_OLD = (
    "乡镇中心已改用更安全的注册方式，本代办点软件版本较旧，请先升级代办点软件再注册（注册码未被使用，升级后仍可使用）"
)


def _hash_code(code: str) -> str:
    # The unique key of a code row; the secret itself lives in EnrolmentSecret until used.
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


class VillageLimitError(ValueError):
    """The hub has given out every receipt prefix; the message is for the supervisor or operator."""


def get_or_create_village(name: str) -> Village:
    """The village of that name, created with the next free receipt prefix."""
    village = Village.get_or_none(Village.name == name)
    if village:
        return village
    return Village.create(name=name, prefix=next_village_prefix(Village.select().count()), created_at=now())


def next_village_prefix(villages: int) -> str:
    """The receipt prefix for a hub's next village when it has `villages` already; VillageLimitError when full.

    Two symbols for the first 960 (the 961st two-symbol prefix is the counter's), three after that.
    """
    if villages > MAX_VILLAGE:
        raise VillageLimitError(
            _(
                "本中心已登记 %(count)s 个村，达到回执码可编号的上限（%(limit)s 个村），不能再登记新的村。"
                "请联系县级管理员另设一个中心。",
                count=villages,
                limit=MAX_VILLAGE + 1,
            )
        )
    return node_prefix(villages)


def _live(cid: str) -> Any:
    """Live (unused, unexpired, not burned) code secrets with this code id, newest first."""
    return (
        EnrolmentSecret.select(EnrolmentSecret, EnrolmentCode)
        .join(EnrolmentCode)
        .where(
            (EnrolmentSecret.code_id == cid)
            & EnrolmentCode.used_at.is_null()
            & (EnrolmentCode.expires_at >= now())
            & EnrolmentSecret.secret.is_null(False)
        )
        .order_by(EnrolmentSecret.code.desc())
    )


def issue_code(village_name: str, lifetime: timedelta = CODE_LIFETIME, actor: str = "cli") -> str:
    """A fresh one-time enrolment code for a village, valid for `lifetime`, as XXXX-XXXX-XXXX."""
    with database.atomic():
        # The code id is all the hub gets to find the code by, so no two live codes share one.
        for _ in range(100):
            code = wire.new_code()
            if not _live(wire.code_id(code)).exists():
                break
        else:  # pragma: no cover - 29,791 ids; only reachable with thousands of live codes
            raise RuntimeError("too many live enrolment codes")
        village = get_or_create_village(village_name)
        row = EnrolmentCode.create(
            code_hash=_hash_code(code), village=village, created_at=now(), expires_at=now() + lifetime
        )
        EnrolmentSecret.create(code=row, code_id=wire.code_id(code), secret=code)
        audit.record(actor, "node.code_issued", village.name, {"hours": lifetime.total_seconds() / 3600})
    return wire.format_code(code)


def _node_keys(pubkey: str, box_pubkey: str | None) -> None:
    # The declaration checks the form; only the key parsers know a valid point.
    try:
        signing.load_public(pubkey)
        if box_pubkey is not None:
            bundle.load_box_public(box_pubkey)
    except Exception as exc:
        raise protocol.error("bad_body", detail="pubkey or box_pubkey is not a valid public key") from exc


def handle(msg: Any, hub_key: Ed25519PrivateKey, hub_box_key: X25519PrivateKey | None) -> dict[str, Any]:
    """Answer one enrolment message (parsed JSON) with the body to sign; ProtocolError when refused."""
    if not isinstance(msg, dict):
        raise protocol.error("bad_body", detail="an enrolment message is a JSON object")
    if "code" in msg and "kind" not in msg:
        # Enrolment v1 sent the code in clear; answering it would hand the code to any observer.
        raise protocol.ProtocolError("unsupported_version", 400, NODE_TOO_OLD, {"upgrade": "node"})
    protocol.check_version(msg)
    message = protocol.declared(msg, messages.decode_enrol)
    hub_box = bundle.box_public_b64(hub_box_key) if hub_box_key is not None else None
    if isinstance(message, messages.EnrolStart):
        return start(message, signing.public_b64(hub_key), hub_box)
    return confirm(message, hub_key, hub_box)


def _code_row(cid: str) -> EnrolmentSecret:
    query = _live(cid)
    # Two workers answering rounds for one code at once must not both count (or use) it.
    row = (query.for_update(of=EnrolmentSecret) if is_postgres() else query).first()
    if row is None:
        raise protocol.error("bad_code")
    return row


def start(msg: messages.EnrolStart, hub_pub: str, hub_box: str | None) -> dict[str, Any]:
    """First round: answer the node's SPAKE2 message; each call is one guess, so it is counted."""
    cid, pubkey, box_pubkey, app_version = msg.code_id, msg.pubkey, msg.box_pubkey, msg.app_version
    _node_keys(pubkey, box_pubkey)
    with database.atomic():
        row = _code_row(cid)
        if row.attempts >= wire.MAX_ATTEMPTS:
            raise protocol.error("bad_code", detail="too many attempts with this code; issue a new one")
        _no_active_node(row.code.village)
        protocol.refuse_nul({"app_version": app_version})  # kept with the code, then the node's row
        try:
            message, hub_confirm, expected = wire.hub_respond(
                str(row.secret), msg.pake, pubkey, box_pubkey, hub_pub, hub_box
            )
        except ValueError as exc:
            raise protocol.error("bad_body", detail="pake is not a SPAKE2 message") from exc
        row.attempts += 1
        row.pending = {"pubkey": pubkey, "box_pubkey": box_pubkey, "app_version": app_version, "confirm_hash": expected}
        row.save()
    answer: dict[str, Any] = {
        "v": protocol.PROTOCOL_VERSION,
        "kind": wire.CHALLENGE,
        "code_id": cid,
        "pake": message,
        "hub_pubkey": hub_pub,
        "hub_confirm": hub_confirm,
    }
    if hub_box is not None:
        answer["hub_box_pubkey"] = hub_box
    return answer


def _no_active_node(village: Village) -> None:
    node = Node.get_or_none(Node.village == village)
    if node is not None and node.status == "active":
        # A village has one node; replacing it needs the old one revoked first.
        raise protocol.error("bad_code", detail="village already has an active node; revoke it first")


def confirm(msg: messages.EnrolConfirm, hub_key: Ed25519PrivateKey, hub_box: str | None) -> dict[str, Any]:
    """Second round: a node that proved it holds the code gets its key registered."""
    cid, pubkey, given = msg.code_id, msg.pubkey, msg.confirm
    with database.atomic():
        row = _code_row(cid)
        pending = row.pending or {}
        ok = pending.get("pubkey") == pubkey and hmac.compare_digest(
            str(pending.get("confirm_hash", "")), wire.confirm_hash(given)
        )
        if ok:
            _no_active_node(row.code.village)
            node = _register(row.code, pubkey, pending.get("box_pubkey"), str(pending.get("app_version", "")))
            row.secret = None
            row.pending = None
            row.save()
        else:
            row.pending = None
            burned = row.attempts >= wire.MAX_ATTEMPTS
            if burned:
                row.secret = None
            row.save()
            audit.record(
                "node", "node.enrol_failed", row.code.village.name, {"attempts": row.attempts, "burned": burned}
            )
    if not ok:
        # Outside the transaction, so the burned attempt stays counted.
        raise protocol.error("bad_code", detail="confirmation does not match the code")
    village = node.village
    answer: dict[str, Any] = {
        "v": protocol.PROTOCOL_VERSION,
        "kind": "enrolment",
        "code_id": cid,
        "node_pubkey": pubkey,
        "node_id": node.node_id,
        "village": village.name,
        "prefix": village.prefix,
        "hub_pubkey": signing.public_b64(hub_key),
        "hub_fingerprint": signing.fingerprint(signing.public_b64(hub_key)),
        "last_seq": node.last_seq,
        "last_hash": node.last_hash,
        "catalogue": current_catalogue().to_dict(),
    }
    if hub_box is not None:
        answer["hub_box_pubkey"] = hub_box
    return answer


def _register(code: EnrolmentCode, pubkey: str, box_pubkey: str | None, app_version: str) -> Node:
    """Use the code and register (or re-key, for a replacement PC) the village's node."""
    code.used_at = now()
    code.save()
    village = code.village
    node = Node.get_or_none(Node.village == village)
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
    return node


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
