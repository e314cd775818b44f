"""The node's notion of now, as the hub's is in hub/clock.py: one place to read (and pin) the time."""

from __future__ import annotations

from datetime import datetime, timezone

# Tests pin the node's clock here (naive UTC); None = real time.
pinned: datetime | None = None


def now() -> datetime:
    """Current time as naive UTC, the form stored in the node database."""
    return pinned if pinned is not None else datetime.now(timezone.utc).replace(tzinfo=None)
