"""Browser-facing protections: CSRF on every form, strict security headers, session cookie settings."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

from shared.http_headers import SECURITY_HEADERS as HEADERS

from . import auth

csrf = CSRFProtect()
SESSION_HOURS = 12


def init_app(app: Flask) -> None:
    """Cookie settings, CSRFProtect and the headers on every response."""
    # Flask's defaults already exist as keys, so these are set unless configured otherwise.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    # As configured: on in the production settings under deploy/ (served over HTTPS), off for plain-HTTP LANs.
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=SESSION_HOURS)
    # A clerk may leave a form open for a long time; the token lives as long as the session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    auth.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_template(
            "error.html",
            title="页面已过期",
            message="表单校验码缺失或已过期，未保存任何内容。请返回、刷新页面后重新提交。",
        ), 400

    @app.after_request
    def _headers(resp: Response) -> Response:
        for name, value in HEADERS.items():
            resp.headers.setdefault(name, value)
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp
