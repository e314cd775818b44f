"""Enrolling this node with the hub: register our key with a one-time code, pin the hub's key."""

from __future__ import annotations

from typing import Any

import hmac

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import encoding, protocol, signing

from . import meta
from .db import database
from .outbox import APP_VERSION
from .transport import RefusedError, Transport, TrustError


def enroll(transport: Transport, key: Ed25519PrivateKey, code: str, hub_url: str,
           box_pubkey: str | None = None) -> dict[str, Any]:
    """Register with the hub and pin its keys; refuses an answer not bound to our code."""
    normal = code.replace("-", "").replace(" ", "").upper()
    msg = {"v": protocol.PROTOCOL_VERSION, "code": normal, "pubkey": signing.public_b64(key),
           "app_version": APP_VERSION}
    if box_pubkey:
        msg["box_pubkey"] = box_pubkey
    status, raw = transport.exchange("/api/v1/enroll", encoding.canonical(msg))
    try:
        env = encoding.parse(raw)
        body, sig = env["body"], env["sig"]
    except (encoding.EncodingError, KeyError, TypeError) as exc:
        raise RefusedError(f"中心回复无法识别（HTTP {status}）") from exc
    if status != 200:
        raise RefusedError((body.get("error") or {}).get("message", "注册失败"), "enroll_refused")
    if not hmac.compare_digest(str(env.get("mac", "")), protocol.enrolment_mac(normal, body)):
        raise TrustError("注册回复未通过注册码校验，可能被冒充，已放弃", "bad_mac")
    if not protocol.verify_body(body["hub_pubkey"], body, sig):
        raise TrustError("注册回复签名无效", "bad_hub_signature")
    with database.atomic():
        meta.put("node_id", body["node_id"])
        meta.put("village", body["village"])
        meta.put("prefix", body["prefix"])
        meta.put("hub_url", hub_url)
        meta.put("hub_pubkey", body["hub_pubkey"])
        if isinstance(body.get("hub_box_pubkey"), str):
            meta.put("hub_box_pubkey", body["hub_box_pubkey"])
        meta.put("catalogue", body["catalogue"])
        meta.put("catalogue_version", int(body["catalogue"]["version"]))
    return body
