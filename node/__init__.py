"""The village node: the clerk's app, local SQLite, outbox, sync client and local status page."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from shared import app_config


def create_app(test_config: dict[str, Any] | None = None, data_dir: str | None = None) -> Flask:
    """Build the node app: defaults, instance config, DAIBAN_NODE_* environment, then subsystems."""
    app = create_core_app(test_config, data_dir)

    from . import api, ratelimit, security, storage, views

    views.init_app(app)
    storage.init_app(app)
    app.register_blueprint(api.bp)
    security.csrf.exempt(api.bp)
    ratelimit.init_app(app)
    return app


def create_core_app(test_config: dict[str, Any] | None = None, data_dir: str | None = None) -> Flask:
    """The node app up to its pages: configuration, database, key, sessions, languages.

    What a `daiban node` command needs (node/cli.py): its process does not import the pages, the API
    and what they import (docs/performance.md)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        # `--dir` arrives as data_dir; gunicorn/systemd give DAIBAN_NODE_DIR.
        DATA_DIR=data_dir or os.environ.get("DAIBAN_NODE_DIR", app.instance_path),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        SECRET_KEY=None,
    )
    app_config.load(app, "DAIBAN_NODE", test_config)

    from shared import request_values, templating

    from . import i18n, security, web

    web.init_app(app)
    request_values.init_app(app)
    templating.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    return app
