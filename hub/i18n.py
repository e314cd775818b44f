"""The hub's languages: the shared policy, with the hub's own catalogues."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from shared import i18n

TRANSLATIONS = Path(__file__).parent / "translations"


def init_app(app: Flask) -> None:
    i18n.init_app(app, TRANSLATIONS, home_endpoint="public_status.status")
