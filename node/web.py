"""Wiring the node's database, key and session secret into the app."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from shared import signing

from . import meta
from .db import bind, database, open_database

KEY_FILE = "node_key.pem"
DB_FILE = "node.sqlite3"


def open_node(data_dir: str | Path) -> None:
    """Bind the models to the node database in data_dir, creating or upgrading its schema."""
    from .schema import migrate

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    bind(open_database(Path(data_dir) / DB_FILE))
    with database.connection_context():
        migrate()


def node_key(data_dir: str | Path) -> Ed25519PrivateKey:
    """This node's signing key, made on first use (0600)."""
    return signing.load_or_create(Path(data_dir) / KEY_FILE)


def init_app(app: Flask) -> None:
    """Open the database and key once per process, connect per request."""
    data_dir = app.config["DATA_DIR"]
    open_node(data_dir)
    app.extensions["daiban_node_key"] = node_key(data_dir)
    if not app.config.get("SECRET_KEY"):
        with database.connection_context():
            secret = meta.get("session_secret")
            if secret is None:
                secret = secrets.token_hex(32)
                with database.atomic():
                    meta.put("session_secret", secret)
        app.config["SECRET_KEY"] = secret

    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()
