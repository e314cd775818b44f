"""Beijing time, the one clock every page, notice and deadline reads (China has one zone, no daylight saving).

Both apps store naive UTC; this is where a stored time becomes the time a clerk or villager reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing(ts: datetime) -> datetime:
    """A stored time (naive = UTC, or aware) as an aware Beijing time."""
    return (ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)).astimezone(CHINA_TZ)
