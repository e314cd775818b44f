"""The hub's signing key, kept in the data directory with owner-only permissions."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared import bundle, signing

KEY_FILE = "hub_key.pem"
BOX_KEY_FILE = "hub_box_key.pem"


def key_path(data_dir: str | Path) -> Path:
    """Where the hub key lives."""
    return Path(data_dir) / KEY_FILE


def ensure_key(data_dir: str | Path) -> Ed25519PrivateKey:
    """Load the hub key, creating it on first use."""
    return signing.load_or_create(key_path(data_dir))


def ensure_box_key(data_dir: str | Path) -> X25519PrivateKey:
    """Load the hub's X25519 key that USB bundles are encrypted to, creating it on first use."""
    return bundle.load_or_create_box_key(Path(data_dir) / BOX_KEY_FILE)
