"""Enrolling this node with the hub (enrolment v2): prove the one-time code without sending it, pin the hub's key.

The node pins a hub key only after the hub has shown, through SPAKE2 on the code, that it holds
the same code and that the code is bound to exactly that hub key and to our key
(`shared.enrolment`). A proxy that rewrites the answer cannot make that proof, so the node
stops with an alarm and stores nothing.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import encoding, protocol, signing
from shared import enrolment as wire

from . import meta
from .db import database
from .outbox import APP_VERSION
from .transport import RefusedError, Transport, TrustError

PATH = "/api/v1/enroll"

# Said when the hub's answer does not prove it knows the code: the only safe thing is to stop.
MITM_ALARM = (
    "警告：乡镇中心的回答未能证明它持有这个注册码，可能有人在网络中间冒充乡镇中心"
    "（少数情况下是注册码输错）。已放弃注册，没有保存任何中心密钥。"
    "请与乡镇中心电话核对注册码和中心密钥指纹后再试，必要时换一条网络。"
)
HUB_TOO_OLD = "乡镇中心的软件版本较旧，不支持安全注册方式，请联系县里升级乡镇中心后再注册"


def _exchange(transport: Transport, msg: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Send one enrolment message; the answer's (body, sig), or RefusedError with the hub's reason."""
    status, raw = transport.exchange(PATH, encoding.canonical(msg))
    try:
        env = encoding.parse(raw)
        body, sig = env["body"], env["sig"]
        if not isinstance(body, dict) or not isinstance(sig, str):
            raise TypeError("envelope")
    except (encoding.EncodingError, KeyError, TypeError) as exc:
        raise RefusedError(f"中心回复无法识别（HTTP {status}）") from exc
    if status != 200:
        got = body.get("error")
        err: dict[str, Any] = got if isinstance(got, dict) else {}
        if err.get("code") == "bad_body" and "code and pubkey" in str(err.get("detail", "")):
            raise RefusedError(HUB_TOO_OLD, "hub_too_old")
        raise RefusedError(str(err.get("message") or "注册失败"), "enroll_refused")
    return body, sig


def enroll(
    transport: Transport, key: Ed25519PrivateKey, code: str, hub_url: str, box_pubkey: str | None = None
) -> dict[str, Any]:
    """Register with the hub and pin its keys; TrustError (nothing stored) when the hub cannot prove the code."""
    try:
        normal = wire.parse_code(code)
    except wire.CodeError as exc:
        raise RefusedError(str(exc), "bad_code_format") from exc
    pubkey = signing.public_b64(key)
    side = wire.NodeSide(normal, pubkey, box_pubkey)
    start: dict[str, Any] = {
        "v": protocol.PROTOCOL_VERSION,
        "kind": wire.START,
        "code_id": side.cid,
        "pubkey": pubkey,
        "app_version": APP_VERSION,
        "pake": side.start(),
    }
    if box_pubkey:
        start["box_pubkey"] = box_pubkey
    challenge, _ = _exchange(transport, start)
    hub_pub, hub_box = challenge.get("hub_pubkey"), challenge.get("hub_box_pubkey")
    if (
        challenge.get("kind") != wire.CHALLENGE
        or not isinstance(hub_pub, str)
        or not (hub_box is None or isinstance(hub_box, str))
    ):
        raise TrustError(MITM_ALARM, "bad_challenge")
    try:
        proof = side.finish(challenge.get("pake"), hub_pub, hub_box, challenge.get("hub_confirm"))
    except ValueError as exc:
        raise TrustError(MITM_ALARM, "bad_mac") from exc
    # From here the hub keys are the ones bound to the code; everything else must be signed by that key.
    body, sig = _exchange(
        transport,
        {"v": protocol.PROTOCOL_VERSION, "kind": wire.CONFIRM, "code_id": side.cid, "pubkey": pubkey, "confirm": proof},
    )
    if not protocol.verify_body(hub_pub, body, sig):
        raise TrustError(MITM_ALARM, "bad_hub_signature")
    if (
        body.get("kind") != "enrolment"
        or body.get("hub_pubkey") != hub_pub
        or body.get("node_pubkey") != pubkey
        or body.get("code_id") != side.cid
        or body.get("hub_box_pubkey") != hub_box
    ):
        raise TrustError(MITM_ALARM, "mismatched_enrolment")
    with database.atomic():
        meta.put("node_id", body["node_id"])
        meta.put("village", body["village"])
        meta.put("prefix", body["prefix"])
        meta.put("hub_url", hub_url)
        meta.put("hub_pubkey", hub_pub)
        if hub_box is not None:
            meta.put("hub_box_pubkey", hub_box)
        meta.put("catalogue", body["catalogue"])
        meta.put("catalogue_version", int(body["catalogue"]["version"]))
    return body
