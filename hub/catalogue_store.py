"""The catalogue as the hub stores it: versions in the database, the newest one in force."""

from __future__ import annotations

import json

from shared.catalogue import Catalogue

from .db import database
from .models import CatalogueVersion


# The stored JSON text of the version in force -> its Catalogue. Every sync batch and status lookup
# asks for the catalogue; decoding and copying it each time cost more than the rest of a lookup.
# Keyed by the text itself, so a new version, another database (tests) or a restore is never stale.
_decoded: dict[str, Catalogue] = {}


def current() -> Catalogue:
    """The catalogue version in force (treat it as read-only: it is shared within the process)."""
    # Plain SQL (the stored text, not decoded): every sync batch asks twice, and compiling the query cost more.
    table = CatalogueVersion._meta.table_name
    raw = database.execute_sql(f'SELECT "data" FROM "{table}" ORDER BY "version" DESC LIMIT 1').fetchone()[0]  # nosec B608
    catalogue = _decoded.get(raw)
    if catalogue is None:
        catalogue = Catalogue(json.loads(raw))
        _decoded.clear()
        _decoded[raw] = catalogue
    return catalogue
