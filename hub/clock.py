"""The hub's notion of now and today (China has one time zone and no daylight saving)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def now() -> datetime:
    """Current time as naive UTC, the form stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def today() -> date:
    """Today's date in China, which is what deadlines count in."""
    return datetime.now(CHINA_TZ).date()


def china_date(ts: datetime) -> date:
    """The Chinese calendar date of a stored (naive UTC) timestamp."""
    return ts.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).date()
