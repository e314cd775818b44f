"""Pinning the hub's TLS certificate: a county with a self-signed certificate trusts exactly that one."""

from __future__ import annotations

import hashlib
import ssl
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter


def normalise(fingerprint: str) -> str:
    """A SHA-256 fingerprint as 64 lowercase hex digits, whatever colons or case it was given in."""
    return fingerprint.replace(":", "").replace(" ", "").strip().lower()


def fetch_fingerprint(url: str, timeout: float = 10.0) -> str:
    """The SHA-256 fingerprint of the certificate the server at url presents (not verified here)."""
    parts = urlsplit(url)
    port = parts.port or 443
    pem = ssl.get_server_certificate((parts.hostname or "", port), timeout=timeout)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def display(fingerprint: str) -> str:
    """The fingerprint as people compare it: colon-separated upper-case pairs."""
    fp = normalise(fingerprint).upper()
    return ":".join(fp[i : i + 2] for i in range(0, len(fp), 2))


class PinnedAdapter(HTTPAdapter):
    """Accepts a TLS peer only when its certificate has the pinned SHA-256 fingerprint."""

    def __init__(self, fingerprint: str, **kwargs: Any):
        self.fingerprint = normalise(fingerprint)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        # The pin replaces CA validation: a self-signed certificate has no CA to check against.
        kwargs["assert_fingerprint"] = self.fingerprint
        kwargs["cert_reqs"] = ssl.CERT_NONE
        kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, False, cert)
