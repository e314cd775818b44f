"""Staff login, logout, role checks, CSRF and security headers for the hub's pages."""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, Flask, Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from shared.http_headers import SECURITY_HEADERS
from shared.redirects import safe_next

from . import audit
from .models import Staff
from .staff import authenticate

log = logging.getLogger("daiban.hub.auth")
bp = Blueprint("auth", __name__)
csrf = CSRFProtect()



def init_app(app: Flask) -> None:
    """Session cookie flags, CSRF on every form, security headers on every response."""
    from datetime import timedelta

    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=8)
    csrf.init_app(app)
    app.register_blueprint(bp)

    @app.after_request
    def _headers(resp: Response) -> Response:
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> Any:
        # CSRF is checked before the user is loaded, so look the session up here.
        log.warning("CSRF check failed on %s from %s", request.path, request.remote_addr)
        uid = session.get("staff_id")
        user = Staff.get_or_none(Staff.id == uid) if uid else None
        audit.record(user.username if user else "?", "csrf.refused", request.path[:120],
                     {"reason": exc.description})
        return render_template("csrf_error.html"), 400

    @app.before_request
    def _load_user() -> None:
        uid = session.get("staff_id")
        g.user = Staff.get_or_none((Staff.id == uid) & (Staff.active == True)) if uid else None  # noqa: E712


def current_user() -> Staff | None:
    """The logged-in staff member, or None."""
    return g.get("user")


def login_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a logged-in user, and one of `roles` when given (admin passes every check)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.path))
            if roles and user.role not in roles and user.role != "admin":
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Log in with username and password; five failures lock the account for 15 minutes."""
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        user, error = authenticate(username, request.form.get("password", ""))
        audit.record(username or "?", "auth.login" if user else "auth.login_failed", request.remote_addr or "",
                     {} if user else {"reason": error})
        if user is not None:
            session.clear()
            session["staff_id"] = user.id
            session.permanent = True
            return redirect(safe_next(request.args.get("next")) or "/")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    """End the session."""
    user = current_user()
    if user is not None:
        audit.record(user.username, "auth.logout", request.remote_addr or "")
    session.clear()
    flash("已退出登录")
    return redirect(url_for("auth.login"))
