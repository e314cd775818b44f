"""The hub's signing key, kept in the data directory with owner-only permissions, and its rotation.

Rotation writes the new key beside the old one, records a statement signed by the old key
in the database, then swaps the files. Nodes learn the new key from that statement, which
every response carries, so no node needs visiting. A crash between the steps is finished
(or undone) the next time the key is loaded.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared import bundle, encoding, signing

from . import settings
from .db import database
from .models import Setting

KEY_FILE = "hub_key.pem"
BOX_KEY_FILE = "hub_box_key.pem"
NEXT_FILE = "hub_key.next.pem"
ROTATIONS = "key_rotations"


def key_path(data_dir: str | Path) -> Path:
    """Where the hub key lives."""
    return Path(data_dir) / KEY_FILE


def ensure_key(data_dir: str | Path) -> Ed25519PrivateKey:
    """Load the hub key, creating it on first use and finishing an interrupted rotation."""
    _finish_rotation(Path(data_dir))
    return signing.load_or_create(key_path(data_dir))


def ensure_box_key(data_dir: str | Path) -> X25519PrivateKey:
    """Load the hub's X25519 key that USB bundles are encrypted to, creating it on first use."""
    return bundle.load_or_create_box_key(Path(data_dir) / BOX_KEY_FILE)


# Databases whose settings table was seen: a table, once made, stays, so every synced answer need
# not ask the database's catalogue again (2–4 ms a batch on PostgreSQL, docs/performance.md).
_with_settings: "weakref.WeakSet[Any]" = weakref.WeakSet()


def rotation_chain() -> list[dict[str, Any]]:
    """Every rotation statement so far, oldest first (empty when the key never changed)."""
    return rotation_chain_sent()()


def rotation_chain_sent() -> Callable[[], list[dict[str, Any]]]:
    """`rotation_chain`'s read sent now; calling the result reads it (hub.db.pipelined: with others)."""
    db = database.obj
    if db not in _with_settings:
        if not database.table_exists(Setting._meta.table_name):
            return list
        _with_settings.add(db)
    stored = settings.get_sent(ROTATIONS)

    def chain() -> list[dict[str, Any]]:
        value = stored()
        return list(encoding.parse(value.encode())) if value else []

    return chain


def key_version() -> int:
    """1 for the key made at init, +1 for each rotation."""
    return len(rotation_chain()) + 1


def rotate(data_dir: str | Path) -> tuple[str, str]:
    """Replace the hub key; returns (old public key, new public key). Restart the hub afterwards."""
    data_dir = Path(data_dir)
    old = ensure_key(data_dir)
    new = signing.generate_key()
    nxt = data_dir / NEXT_FILE
    nxt.unlink(missing_ok=True)
    signing.save_private_key(new, nxt)
    old_pub, new_pub = signing.public_b64(old), signing.public_b64(new)
    from shared import protocol  # only a rotation needs it; every `daiban hub` command imports this module

    with database.atomic():
        chain = rotation_chain()
        body = protocol.rotation_body(old_pub, new_pub, len(chain) + 2)
        chain.append({"body": body, "sig": signing.sign(old, encoding.canonical(body))})
        value = encoding.canonical(chain).decode()
        settings.put(ROTATIONS, value)
    _finish_rotation(data_dir)
    return old_pub, new_pub


def _finish_rotation(data_dir: Path) -> None:
    """Swap in the next key if its rotation was recorded; drop it if the recording never happened."""
    nxt = data_dir / NEXT_FILE
    if not nxt.exists():
        return
    try:
        if database.is_closed():
            with database.connection_context():
                chain = rotation_chain()
        else:
            chain = rotation_chain()
    except Exception:  # noqa: BLE001 - database not reachable yet: leave the files for the next start
        return
    new_pub = signing.public_b64(signing.load_private_key(nxt))
    if chain and chain[-1]["body"]["new_pubkey"] == new_pub:
        current = key_path(data_dir)
        if current.exists():
            retired = data_dir / f"hub_key.v{len(chain)}.retired.pem"
            os.replace(current, retired)
        os.replace(nxt, current)
    else:
        nxt.unlink()


def decorate(out: dict[str, Any], version: int, chain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Set a response's protocol version and attach the rotation chain (protocol 2 and later).

    `chain`, when the caller already holds it, spares the database read (hub/admission.py answers
    without a connection).
    """
    out["v"] = version
    if version >= 2:
        chain = rotation_chain() if chain is None else chain
        if chain:
            out["key_rotation"] = chain
    return out


def hub_fingerprint() -> str:
    """The running hub's key fingerprint, as `daiban node enroll` prints it for clerks to compare."""
    from flask import current_app

    from shared import signing

    return signing.fingerprint(signing.public_b64(current_app.extensions["daiban_hub_key"]))
