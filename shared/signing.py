"""Ed25519 keys for nodes and hub: generate, store with 0600, fingerprint, sign, verify."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from . import encoding


def generate_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey | X25519PrivateKey, path: str | os.PathLike[str]) -> None:
    """Write a private key as PEM readable by the owner only (created 0600, never widened)."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read a PEM private key written by save_private_key."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def public_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key as base64 text, the form stored and exchanged."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public(b64: str) -> Ed25519PublicKey:
    """Public key from its base64 text."""
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))


def fingerprint(pub_b64: str) -> str:
    """A short fingerprint people can compare by reading aloud: 4 groups of 4 hex digits."""
    h = hashlib.sha256(base64.b64decode(pub_b64)).hexdigest()[:16].upper()
    return "-".join(h[i : i + 4] for i in range(0, 16, 4))


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    """Signature over data, as base64 text."""
    return base64.b64encode(key.sign(data)).decode("ascii")


# The canonical envelope {"body": body, "sig": sig} is ENVELOPE_HEAD + canonical(body) + ENVELOPE_SIG
# + sig + ENVELOPE_END (keys sorted: "body" before "sig"; no spaces); base64 needs no escaping.
ENVELOPE_HEAD = b'{"body":'
ENVELOPE_SIG = b',"sig":"'
ENVELOPE_END = b'"}'


def envelope(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The canonical envelope around a body's canonical bytes `data`, signed: the body encoded once.

    Byte for byte encoding.canonical_message({"body": body, "sig": sign(key, data)})
    (tests/shared/test_encoding.py checks it with hypothesis). Joined, not added: `a + b + c` copies
    a large body once per `+` (120 µs for a 170 kB batch), join copies it once.
    """
    return b"".join((ENVELOPE_HEAD, data, ENVELOPE_SIG, sign(key, data).encode("ascii"), ENVELOPE_END))


def sealed(
    key: Ed25519PrivateKey, body: dict[str, Any], told: Callable[[bytes], None] | None = None
) -> tuple[bytes, str]:
    """(protocol.seal(key, body), protocol.body_hash(body)) from one canonical encoding of the body.

    `told`: given the envelope as soon as it is signed, before the hash is computed (node/outbox
    starts compressing it meanwhile; hashing a batch takes about 2 ms).
    """
    data = encoding.canonical_message(body)
    signed = envelope(key, data)
    if told is not None:
        told(signed)
    return signed, encoding.digest(data)


def verify(pub_b64: str, data: bytes | memoryview, sig_b64: str) -> bool:
    """True when sig is a valid signature of data by the key; never raises on bad input."""
    try:
        load_public(pub_b64).verify(base64.b64decode(sig_b64, validate=True), data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_or_create(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load the key at path, generating and saving it (0600) on first use."""
    if not Path(path).exists():
        save_private_key(generate_key(), path)
    return load_private_key(path)
