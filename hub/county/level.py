"""Which level this hub is (township or county), kept in the hub settings, set by `daiban hub init --level`."""

from __future__ import annotations

from .. import settings

TOWNSHIP, COUNTY = "township", "county"
LEVELS = (TOWNSHIP, COUNTY)
SETTING = "hub_level"

# What only a county hears (townships passing cases up), and all it hears: those cases and their scans.
COUNTY_ONLY = frozenset({"case.passed_up", "township.figures", "township.alert"})
COUNTY_ACCEPTS = COUNTY_ONLY | {"attachment.added"}

WRONG_LEVEL = "此类事件不属于本级中心（县级中心只接收乡镇报县级的事项，乡镇中心不接收报县级事件）"

_cached: dict[str, str] = {}


def current() -> str:
    """This hub's level; read once per process (it is chosen at init and never changes under a running hub)."""
    if "level" not in _cached:
        _cached["level"] = settings.get(SETTING) or TOWNSHIP
    return _cached["level"]


def is_county() -> bool:
    """True when this hub runs in county mode."""
    return current() == COUNTY


def choose(level: str) -> str:
    """Store the level at init; a hub that already has cases keeps the level it has (ValueError otherwise)."""
    if level not in LEVELS:
        raise ValueError(level)
    held = settings.put_once(SETTING, level)
    forget()
    if held != level:
        raise ValueError(held)
    return held


def forget() -> None:
    """Drop the cached level (after init, and between tests that build hubs of both kinds)."""
    _cached.clear()


def accepts(event_type: str) -> bool:
    """Whether an event of this type may come up to a hub of this level (a village's event never to a county)."""
    return event_type in COUNTY_ACCEPTS if is_county() else event_type not in COUNTY_ONLY
