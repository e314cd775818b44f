"""Schema creation and migrations, run by `daiban hub init` / `daiban hub migrate`, never at import."""

from __future__ import annotations

from shared.catalogue import DEFAULT_CATALOGUE

from .db import database
from .models import ALL_MODELS, CatalogueVersion, Setting
from .clock import now

SCHEMA_VERSION = 1

# Each step moves the schema from version n-1 to n; steps must be safe to re-run.
MIGRATIONS: dict[int, object] = {}


def current_version() -> int:
    """The schema version recorded in the database (0 for an empty one)."""
    if not database.table_exists(Setting._meta.table_name):
        return 0
    row = Setting.get_or_none(Setting.key == "schema_version")
    return int(row.value) if row else 0


def migrate() -> tuple[int, int]:
    """Bring the database to SCHEMA_VERSION; returns (before, after). Safe to run twice."""
    with database.atomic():
        before = current_version()
        database.create_tables(ALL_MODELS, safe=True)
        for version in range(max(before, 1) + 1, SCHEMA_VERSION + 1):
            step = MIGRATIONS[version]
            step()  # type: ignore[operator]
        if not CatalogueVersion.select().exists():
            CatalogueVersion.create(
                version=DEFAULT_CATALOGUE["version"], data=DEFAULT_CATALOGUE, created_at=now(), note="默认目录"
            )
        Setting.insert(key="schema_version", value=str(SCHEMA_VERSION)).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: str(SCHEMA_VERSION)}
        ).execute()
    return before, SCHEMA_VERSION
