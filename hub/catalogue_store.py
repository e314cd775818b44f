"""The catalogue as the hub stores it: versions in the database, the newest one in force."""

from __future__ import annotations

from shared.catalogue import Catalogue

from .models import CatalogueVersion


def current() -> Catalogue:
    """The catalogue version in force."""
    row = CatalogueVersion.select().order_by(CatalogueVersion.version.desc()).get()
    return Catalogue(row.data)
