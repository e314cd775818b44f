"""Typed access to the node's Meta facts."""

from __future__ import annotations

import json
from typing import Any

from .models import Meta


def get(key: str, default: Any = None) -> Any:
    """A fact, decoded from JSON, or default."""
    row = Meta.get_or_none(Meta.key == key)
    return default if row is None else json.loads(row.value)


def put(key: str, value: Any) -> None:
    """Set a fact (call inside the caller's transaction)."""
    Meta.insert(key=key, value=json.dumps(value, ensure_ascii=False)).on_conflict(
        conflict_target=[Meta.key], update={Meta.value: json.dumps(value, ensure_ascii=False)}
    ).execute()
