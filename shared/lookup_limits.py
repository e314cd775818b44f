"""The status-page rule both apps use: lookups per address, and failed lookups per receipt code.

A villager's phone tail is four digits. Limiting by address alone lets someone with many
addresses guess one code's tail, and punishes villagers who share one carrier NAT. So misses
are also counted per code (from any address): a code whose tail is being guessed stops
answering for a while, while the right tail typed again and again costs that code nothing.
Counts live in a `limits` strategy (memory or the configured limiter storage), never in a
database, so a lookup writes nothing durable.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping

# `limits` (with wrapt and asyncio under it) costs ~3 MB: an idle node does not load it.
if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import RateLimiter

DEFAULT_CODE_LIMIT = "10 per hour;30 per day"
# limits' storage in this process's memory: what both apps count in unless RATELIMIT_STORAGE_URI says otherwise.
MEMORY = "memory://"


def storage_uri(config: Mapping[str, Any]) -> str:
    """The limiter storage an app's configuration names (RATELIMIT_STORAGE_URI), memory by default."""
    return str(config.get("RATELIMIT_STORAGE_URI") or MEMORY)


def per_address(count: int, seconds: float) -> RateLimitItem:
    """`count` lookups per `seconds` for one address."""
    return _parsed(f"{int(count)} per {max(1, int(seconds))} seconds")[0]


def per_code(text: str | None) -> list[RateLimitItem]:
    """The per-code miss limits from a Flask-Limiter style string (e.g. "10 per hour;30 per day")."""
    return list(_parsed(text or DEFAULT_CODE_LIMIT))


@lru_cache(maxsize=32)
def _parsed(text: str) -> tuple[RateLimitItem, ...]:
    # Parsed once per setting: parsing cost ~20 µs, on every lookup and again on every miss.
    from limits import parse_many

    return tuple(parse_many(text))


def allow_lookup(
    strategy: RateLimiter, address: RateLimitItem, code_limits: list[RateLimitItem], client: str, code: str
) -> bool:
    """Count one lookup from `client`; False when the address or the code has used up its allowance."""
    if not all(strategy.test(item, "status-code", code) for item in code_limits):
        return False
    return strategy.hit(address, "status-address", client)


def count_miss(strategy: RateLimiter, code_limits: list[RateLimitItem], code: str) -> None:
    """Count one failed lookup (wrong tail or unknown code) against a receipt code."""
    for item in code_limits:
        strategy.hit(item, "status-code", code)


def retry_after(reset_at: float) -> int:
    """Whole seconds until a limiter window resets (at least 1), for Retry-After on hub and node."""
    return max(1, int(reset_at - time.time()) + 1)
