"""Templates both apps render (the printed notice): shared/templates, searched after each app's own."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask

TEMPLATES = Path(__file__).resolve().parent / "templates"


def init_app(app: Flask) -> None:
    """Let the app's templates include shared ones (a blueprint's template folder, as Flask searches them)."""
    app.register_blueprint(Blueprint("shared_templates", __name__, template_folder=str(TEMPLATES)))
