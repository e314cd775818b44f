"""Beijing time, the one clock every page, notice and deadline reads (China has one zone, no daylight saving).

Both apps store UTC (the hub as naive UTC datetimes, the node and the protocol as ISO text); this is
where a stored time becomes the time a clerk or villager reads. Every page shows Beijing time
through `beijing_time` (a Jinja filter in both apps, registered by `register`) and says once that
its times are Beijing time (`LABEL`), so a time is never UTC shown as if it were local.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
LABEL = "北京时间"


def beijing(ts: datetime) -> datetime:
    """A stored time (naive = UTC, or aware) as an aware Beijing time."""
    return (ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)).astimezone(CHINA_TZ)


def to_beijing(value: Any) -> datetime | None:
    """A stored time (naive UTC datetime, aware datetime or ISO text) in Beijing time; None if it is not one."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return beijing(value) if isinstance(value, datetime) else None


def beijing_time(value: Any, labelled: bool = False, date_only: bool = False) -> str:
    """A stored time as Beijing time ("2026-11-30 13:10"), optionally followed by "（北京时间）".

    Empty for no value; a date stays as it is (dates carry no zone); text that is not a time is
    shown as it came, cut to 16 characters, rather than hidden.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    local = to_beijing(value)
    if local is None:
        return str(value)[:16]
    text = local.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")
    return f"{text}（{LABEL}）" if labelled and not date_only else text


def sort_key(value: Any) -> datetime:
    """An order for times of any stored form (history rows mix the node's ISO text and the hub's datetimes)."""
    local = to_beijing(value)
    return local if local is not None else datetime.min.replace(tzinfo=timezone.utc)


def register(app: Any) -> None:
    """Make `beijing_time` (and the older filter names, kept so no template shows UTC) a Jinja filter."""
    for name in ("beijing_time", "cn_time", "cn_iso", "local_time"):
        app.jinja_env.filters[name] = beijing_time
    app.jinja_env.globals["TIME_LABEL"] = LABEL
