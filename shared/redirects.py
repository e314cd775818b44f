"""Where a `next=` parameter may send the browser: a path on this site, judged as a browser reads it.

Browsers drop tabs and newlines anywhere in a URL, trim leading blanks and control
characters, and read a backslash as a slash, so ``/\\t/evil.example`` and ``/\\evil.example``
both mean ``//evil.example``: another site. The target is normalised that way first and then
must be a plain path: one leading slash, no scheme, no host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DROPPED = str.maketrans("", "", "\t\n\r")


def browser_normalised(target: str) -> str:
    """The target as a browser would resolve it: tabs/newlines dropped, blanks trimmed, \\ read as /."""
    return (
        target.translate(_DROPPED)
        .strip(
            "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
            "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
        )
        .replace("\\", "/")
    )


def safe_next(target: str | None) -> str | None:
    """The target when it is a path on this site, else None (then the caller picks its own page)."""
    if not target:
        return None
    path = browser_normalised(target)
    if not path.startswith("/") or path.startswith("//"):
        return None
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return None
    return path
