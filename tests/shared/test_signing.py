"""Keys on disk, fingerprints, signatures."""

from __future__ import annotations

import os
import stat

from shared import signing


def test_key_file_is_owner_only_and_loads_back(tmp_path) -> None:
    path = tmp_path / "k" / "node_key.pem"
    key = signing.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signing.public_b64(signing.load_or_create(path)) == signing.public_b64(key)


def test_fingerprint_is_short_and_stable() -> None:
    key = signing.generate_key()
    fp = signing.fingerprint(signing.public_b64(key))
    assert len(fp) == 19
    assert fp.count("-") == 3
    assert fp == signing.fingerprint(signing.public_b64(key))


def test_verify_accepts_only_the_signed_bytes_and_never_raises() -> None:
    key = signing.generate_key()
    pub = signing.public_b64(key)
    sig = signing.sign(key, b"batch")
    assert signing.verify(pub, b"batch", sig)
    assert not signing.verify(pub, b"batcH", sig)
    assert not signing.verify(signing.public_b64(signing.generate_key()), b"batch", sig)
    assert not signing.verify(pub, b"batch", "not base64!")
    assert not signing.verify("garbage", b"batch", sig)
