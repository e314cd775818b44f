"""The catalogue as the hub stores it: versions in the database, the newest one in force."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from shared.catalogue import Catalogue

from .db import database
from .models import CatalogueVersion

# Per database: the version in force, named by its number and creation time, and its Catalogue.
# Every sync batch and status lookup asks for the catalogue; decoding it each time cost more than the
# rest of a lookup, and reading its whole text (23 KB) to compare it with the kept one ~45 µs more.
# A stored version is never edited (every change is a new version: hub/catalogue_admin.py), so its
# number and creation time name its text: a new version, another database (tests) or a restore of
# another history (another creation time for the same number) reads and decodes the text again.
_decoded: WeakKeyDictionary[Any, tuple[tuple[Any, Any], Catalogue]] = WeakKeyDictionary()


def in_force_columns() -> tuple[Any, Any]:
    """The version in force's number and creation time as two columns of another query (`current(in_force=…)`)."""
    newest = CatalogueVersion.select
    order = CatalogueVersion.version.desc()
    return (
        newest(CatalogueVersion.version).order_by(order).limit(1),
        newest(CatalogueVersion.created_at).order_by(order).limit(1),
    )


def current(in_force: tuple[Any, Any] | None = None) -> Catalogue:
    """The catalogue version in force (treat it as read-only: it is shared within the process).

    in_force: its number and creation time as the caller's own query just read them, unconverted
    (`in_force_columns`): a status lookup reads them with the case, one query fewer per lookup.
    """
    if in_force is None:
        return current_sent()()
    return _in_force(CatalogueVersion._meta.table_name, *in_force)


def current_sent() -> Callable[[], Catalogue]:
    """`current`'s look-up sent now; calling the result reads it (inside hub.db.pipelined, with the
    statements sent beside it: one round trip on PostgreSQL)."""
    # Plain SQL: every sync batch asks twice, and compiling the query cost more than running it.
    table = CatalogueVersion._meta.table_name
    cursor = database.execute_sql(
        f'SELECT "version", "created_at" FROM "{table}" ORDER BY "version" DESC LIMIT 1'  # nosec B608
    )
    return lambda: _in_force(table, *cursor.fetchone())


def _in_force(table: str, version: Any, created_at: Any) -> Catalogue:
    """The Catalogue of the version read: the one kept, or its text read and decoded."""
    db = database.obj
    kept = _decoded.get(db)
    if kept is not None and kept[0] == (version, created_at):
        return kept[1]
    raw = database.execute_sql(
        f'SELECT "data" FROM "{table}" WHERE "version" = {database.param}',  # nosec B608
        [version],
    ).fetchone()[0]
    catalogue = Catalogue(json.loads(raw))
    _decoded[db] = ((version, created_at), catalogue)
    return catalogue
