"""What a production hub needs around the app: proxy headers, structured logs, /metrics."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import jsonlog


def init_logging(app: Flask) -> None:
    """Logging (DAIBAN_HUB_LOG_FORMAT=json): set up with the app's configuration, so `daiban hub`
    commands, which build the app without its pages (hub.create_core_app), log as the server does."""
    if app.config.get("LOG_FORMAT") or not app.testing:
        jsonlog.configure(str(app.config.get("LOG_FORMAT") or "text"), str(app.config.get("LOG_LEVEL") or "INFO"))


def init_app(app: Flask) -> None:
    """Wire ProxyFix (DAIBAN_HUB_PROXY_FIX=1 behind nginx) and metrics (logging: init_logging)."""
    from . import metrics

    hops = int(app.config.get("PROXY_FIX") or 0)
    if hops:
        # Trust exactly as many proxies as configured: nginx sets X-Forwarded-For/Proto/Host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]  # Flask's documented way
    metrics.init_app(app)
