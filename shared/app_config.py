"""Where a hub's or node's settings come from, the same for both apps."""

from __future__ import annotations

from typing import Any

from flask import Flask


def load(app: Flask, env_prefix: str, test_config: dict[str, Any] | None) -> None:
    """Over the app's defaults: the instance folder's config.py, then the `<env_prefix>_*` environment
    (DAIBAN_HUB_SECRET_KEY…); a test's settings instead of both."""
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env(env_prefix)
    else:
        app.config.from_mapping(test_config)
