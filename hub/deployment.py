"""What a production hub needs around the app: proxy headers, structured logs, /metrics."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import jsonlog

from . import metrics


def init_app(app: Flask) -> None:
    """Wire ProxyFix (DAIBAN_HUB_PROXY_FIX=1 behind nginx), logging (DAIBAN_HUB_LOG_FORMAT=json) and metrics."""
    hops = int(app.config.get("PROXY_FIX") or 0)
    if hops:
        # Trust exactly as many proxies as configured: nginx sets X-Forwarded-For/Proto/Host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]  # Flask's documented way
    if app.config.get("LOG_FORMAT") or not app.testing:
        jsonlog.configure(str(app.config.get("LOG_FORMAT") or "text"), str(app.config.get("LOG_LEVEL") or "INFO"))
    metrics.init_app(app)
