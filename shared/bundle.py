"""USB bundle files: a payload encrypted to the recipient's X25519 key and signed by the sender's Ed25519 key.

File = canonical JSON ``{"body": header, "sig": Ed25519(canonical(header))}`` where the
header names sender and recipient and carries ``ct``: ChaCha20-Poly1305 over the
deflated canonical payload, keyed by HKDF-SHA256 of an ephemeral X25519 exchange with
the recipient's box key.  The header without ``ct`` is the AEAD's associated data, so
no field can be swapped between bundles.  See docs/bundles.md.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import encoding, signing
from shared.msgid import N_

BUNDLE_VERSION = 1
TO_HUB = "to_hub"
TO_NODE = "to_node"
HKDF_INFO = b"daiban-bundle-v1"
# A bundle carries batches (each at most MAX_BODY_BYTES) and attachments; bound what we inflate.
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
MAX_PAYLOAD_BYTES = 512 * 1024 * 1024


class BundleError(Exception):
    """A bundle we will not use: a machine code and a sentence for the clerk or officer."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


MESSAGES = {
    "bad_format": N_("文件不是代办数据包，或已损坏（可能未完整拷贝）"),
    "wrong_direction": N_("数据包方向不对：请在另一端导入此文件"),
    "wrong_recipient": N_("此数据包不是发给本机的，未导入"),
    "bad_signature": N_("数据包签名无效，可能被篡改，未导入"),
    "decrypt_failed": N_("数据包无法解密（已损坏、被篡改或不是发给本机的），未导入"),
}


def fail(code: str, detail: str = "") -> BundleError:
    """The BundleError for a code, with an optional detail appended."""
    return BundleError(
        code, N_("%(message)s（%(detail)s）", message=MESSAGES[code], detail=detail) if detail else MESSAGES[code]
    )


# --- box keys (X25519, encryption only) --------------------------------------


def generate_box_key() -> X25519PrivateKey:
    """A fresh X25519 key for receiving bundles."""
    return X25519PrivateKey.generate()


def box_public_b64(key: X25519PrivateKey | X25519PublicKey) -> str:
    """The raw 32-byte public box key as base64 text."""
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return base64.b64encode(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def load_box_public(b64: str) -> X25519PublicKey:
    """A public box key from its base64 text."""
    return X25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))


def load_or_create_box_key(path: str | os.PathLike[str]) -> X25519PrivateKey:
    """Load the box key at path, generating it (file mode 0600) on first use."""
    path = Path(path)
    if not path.exists():
        signing.save_private_key(generate_box_key(), path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValueError("not an X25519 key")
    return key


# --- sealing and opening -------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise fail("bad_format")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise fail("bad_format") from exc


def _derive(shared_secret: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + recipient, info=HKDF_INFO).derive(shared_secret)


def _aad(header: dict[str, Any]) -> bytes:
    return encoding.canonical({k: v for k, v in header.items() if k != "ct"})


def seal(
    payload: dict[str, Any],
    *,
    direction: str,
    sender: str,
    recipient: str,
    recipient_box_pub: str,
    signing_key: Ed25519PrivateKey,
    bundle_id: str | None = None,
    in_reply_to: str | None = None,
    extra_header: dict[str, Any] | None = None,
) -> bytes:
    """Encrypt payload to the recipient's box key, sign the whole header, return the file bytes.

    extra_header adds signed, unencrypted fields (the hub's key rotation chain, which the
    node must read before it can check the signature).
    """
    from . import protocol  # here: every hub and node process loads its box key from this module at start

    eph = generate_box_key()
    epk = base64.b64decode(box_public_b64(eph))
    rcpt = load_box_public(recipient_box_pub)
    key = _derive(eph.exchange(rcpt), epk, base64.b64decode(recipient_box_pub))
    nonce = os.urandom(12)
    header: dict[str, Any] = {
        "v": BUNDLE_VERSION,
        "kind": "bundle",
        "direction": direction,
        "bundle_id": bundle_id or protocol.new_id(),
        "in_reply_to": in_reply_to,
        "sender": sender,
        "recipient": recipient,
        "recipient_box": recipient_box_pub,
        "created": protocol.iso(protocol.utcnow()),
        "epk": _b64(epk),
        "nonce": _b64(nonce),
    }
    for k, v in (extra_header or {}).items():
        header.setdefault(k, v)
    plain = encoding.compress(encoding.canonical(payload))
    header["ct"] = _b64(ChaCha20Poly1305(key).encrypt(nonce, plain, _aad(header)))
    return encoding.canonical({"body": header, "sig": signing.sign(signing_key, encoding.canonical(header))})


def read_header(raw: bytes) -> tuple[dict[str, Any], str]:
    """Parse bundle bytes into (header, signature) without trusting them yet."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise fail("bad_format", N_("文件过大"))
    try:
        env = encoding.parse(raw)
    except encoding.EncodingError as exc:
        raise fail("bad_format") from exc
    if not isinstance(env, dict) or not isinstance(env.get("body"), dict) or not isinstance(env.get("sig"), str):
        raise fail("bad_format")
    header = env["body"]
    if header.get("v") != BUNDLE_VERSION or header.get("kind") != "bundle":
        raise fail("bad_format", N_("版本或类型不符"))
    for k in ("direction", "bundle_id", "sender", "recipient", "recipient_box", "epk", "nonce", "ct"):
        if not isinstance(header.get(k), str):
            raise fail("bad_format", N_("缺少 %(field)s", field=k))
    return header, env["sig"]


@dataclass(frozen=True)
class Opened:
    """A bundle that passed every check: its header and decrypted payload."""

    header: dict[str, Any]
    payload: dict[str, Any]


def open_bundle(
    raw: bytes,
    *,
    direction: str,
    recipient: str | None,
    box_key: X25519PrivateKey,
    sender_pubkey: str,
) -> Opened:
    """Check direction, recipient and signature, then decrypt; BundleError on any failure."""
    header, sig = read_header(raw)
    if header["direction"] not in (TO_HUB, TO_NODE):
        raise fail("bad_format", N_("方向字段无效"))
    if header["direction"] != direction:
        raise fail("wrong_direction")
    # Signature before recipient: a damaged file must say so, not claim to be someone else's.
    if not signing.verify(sender_pubkey, encoding.canonical(header), sig):
        raise fail("bad_signature")
    own_box = box_public_b64(box_key)
    if (recipient is not None and header["recipient"] != recipient) or header["recipient_box"] != own_box:
        raise fail("wrong_recipient", N_("收件方 %(recipient)s", recipient=header["recipient"][:12]))
    epk = _unb64(header["epk"])
    try:
        key = _derive(box_key.exchange(X25519PublicKey.from_public_bytes(epk)), epk, _unb64(own_box))
        plain = ChaCha20Poly1305(key).decrypt(_unb64(header["nonce"]), _unb64(header["ct"]), _aad(header))
        payload = encoding.parse(encoding.decompress(plain, MAX_PAYLOAD_BYTES))
    except (InvalidTag, ValueError) as exc:
        raise fail("decrypt_failed") from exc
    if not isinstance(payload, dict):
        raise fail("bad_format")
    return Opened(header, payload)


def encode_blob(data: bytes) -> str:
    """Bytes as they travel inside a payload."""
    return _b64(data)


def decode_blob(text: Any) -> bytes:
    """Inverse of encode_blob; BundleError if malformed."""
    return _unb64(text)
