"""What a request still owes: the one supplement-merge rule both the village and the hub apply."""

from __future__ import annotations

from collections.abc import Iterable


def merge_supplement(
    brought: Iterable[str], missing: Iterable[str], supplied: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Return (brought, still missing) after a 补正: supplied codes join brought and leave missing, order kept."""
    supplied = list(dict.fromkeys(supplied))
    now_brought = list(dict.fromkeys([*brought, *supplied]))
    still = [m for m in dict.fromkeys(missing) if m not in supplied]
    return now_brought, still


def owed(required: Iterable[str], applicable: Iterable[str], brought: Iterable[str]) -> list[str]:
    """Codes a request lacks: required ones plus conditional ones ticked applicable, not among those brought."""
    have = set(brought)
    return [c for c in dict.fromkeys([*required, *applicable]) if c not in have]
