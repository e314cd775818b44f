"""What hub and node must compute alike about the downstream log (the hub's decisions for a village).

The log is numbered per village (``cseq``), but numbers alone cannot tell two logs apart:
a hub restored from an older backup, or a PostgreSQL standby promoted after losing the
primary's last commits, numbers new entries from its older end and so re-uses numbers the
village already holds for decisions the hub no longer knows. Two things make a renumbered
log impossible to mistake for the old one (docs/protocol.md, "Downstream log across a loss
of its tail"):

- the hub's **epoch**, a random id drawn whenever its database is restored or found rewound,
  sent with every answer;
- ``at_cursor``, a short digest of the entry the hub holds at the node's cursor. Entries are
  unique (each carries its own microsecond timestamp) and the log is append-only, so when the
  entry at the cursor is the one the node holds, every entry before it is too.
"""

from __future__ import annotations

from typing import Any

from . import encoding

# 16 hex digits (64 bits): two different entries share a digest by accident about never.
DIGEST_CHARS = 16


def entry_digest(entry: dict[str, Any]) -> str:
    """The short digest naming one downstream entry exactly as it travels (cseq included)."""
    return encoding.digest(encoding.canonical(entry))[:DIGEST_CHARS]


def content_key(entry: dict[str, Any]) -> str:
    """The digest of an entry without its number: the same decision under any numbering."""
    return encoding.digest(encoding.canonical({k: v for k, v in entry.items() if k != "cseq"}))
