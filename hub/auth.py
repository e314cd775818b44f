"""Staff login, logout, role checks, CSRF and security headers for the hub's pages.

Flask-Login keeps the logged-in person. The id it stores in the session is "staff id:session
epoch" (Flask-Login's alternative-id pattern): logout, a password change, a lockout or
disabling the account moves the epoch on (hub.staff.end_sessions), so a copied cookie of an
earlier session no longer loads anyone, although its signature is still good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Request as FlaskRequest
from flask_login import COOKIE_NAME, LoginManager, UserMixin, login_user, logout_user, user_accessed
from flask_login import current_user as login_session
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import URLSafeTimedSerializer

from shared.http_headers import JSON_HEADERS, SECURITY_HEADERS
from shared.redirects import safe_next

from . import audit
from .models import Staff
from .staff import authenticate, end_sessions, session_epoch
from flask_babel import gettext as _

log = logging.getLogger("daiban.hub.auth")
bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()
SESSION_HOURS = 8
# Where Flask-Login keeps the user's id in the session: it exports no name for it.
_USER_ID_KEY = "_user_id"
# Blueprints whose requests are authenticated by signature, never by a staff session (`without_session`).
_SESSIONLESS: set[str] = set()


class StaffLogin(UserMixin):
    """A staff member as Flask-Login holds them: the id names the session epoch too."""

    def __init__(self, staff: Staff, epoch: int):
        self.staff = staff
        self.epoch = epoch

    def get_id(self) -> str:
        return f"{self.staff.id}:{self.epoch}"


@login_manager.user_loader
def _load(alt_id: str) -> StaffLogin | None:
    uid, _, epoch = alt_id.partition(":")
    if not (uid.isdigit() and epoch.isdigit()):
        return None
    staff = Staff.get_or_none((Staff.id == int(uid)) & Staff.active)
    if staff is None or session_epoch(staff) != int(epoch):
        return None
    return StaffLogin(staff, int(epoch))


def init_app(app: Flask) -> None:
    """Session cookie flags, CSRF on every form, security headers on every response."""
    from datetime import timedelta

    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    # As configured: on in the production settings under deploy/ (served over HTTPS), off for plain-HTTP LANs.
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=SESSION_HOURS)
    app.session_interface = _StaffSessions()
    csrf.init_app(app)
    _csrf_checked_methods_first(app)
    login_manager.init_app(app)
    app.register_blueprint(bp)

    @app.after_request
    def _headers(resp: Response) -> Response:
        # As setdefault for each (a header the view set stays, the rest are added in this order),
        # with the answer's header names gathered once: each setdefault searched them all again.
        present = {name.lower() for name in resp.headers.keys()}
        for k, v in (JSON_HEADERS if resp.mimetype == "application/json" else SECURITY_HEADERS).items():
            if k.lower() not in present:
                resp.headers.add(k, v)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> Any:
        # CSRF is checked before the user is loaded, so look the session up here.
        log.warning("CSRF check failed on %s from %s", request.path, request.remote_addr)
        user = current_user()
        audit.record(user.username if user else "?", "csrf.refused", request.path[:120], {"reason": exc.description})
        return render_template("csrf_error.html"), 400

    @app.before_request
    def _load_user() -> None:
        if _nobody_to_load():
            g.user = None
            return
        # Templates read g.user; a void session is dropped so the browser gets a fresh one.
        g.user = login_session.staff if login_session.is_authenticated else None
        if g.user is None and _USER_ID_KEY in session:
            session.clear()


def _csrf_checked_methods_first(app: Flask) -> None:
    """Flask-WTF's CSRF check before each request, skipped at once for a method it never checks.

    Its hook looks the view up in its exemptions before it asks the method, on every GET (each
    status lookup): a request whose method is not in WTF_CSRF_METHODS is let through either way.
    Should the hook not be found under its name, it runs as it is: slower, never fewer checks.
    """
    # Flask-WTF has no public way to skip its hook, and checking its exemptions here would read its private sets.
    hooks = app.before_request_funcs.get(None, [])
    for i, hook in enumerate(hooks):
        if getattr(hook, "__module__", None) == "flask_wtf.csrf" and hook.__name__ == "csrf_protect":

            def csrf_protect(stock: Callable[[], Any] = hook) -> Any:
                return stock() if request.method in current_app.config["WTF_CSRF_METHODS"] else None

            hooks[i] = csrf_protect
            return


def _nobody_to_load() -> bool:
    """True (and Flask-Login's anonymous user set) when Flask-Login could only find nobody.

    A request without a session (a villager, a node, a probe) has no user id, no session to
    protect and no remember cookie (the hub never sets one); Flask-Login still computed the
    session-protection identifier (a SHA-512 of address and user agent) and read its settings,
    to find nobody. Its outcome, kept exactly: the session read (so `Vary: Cookie`), no change
    to it, the anonymous user. Anything else (a session, a remember cookie, a request or header
    loader, a `user_accessed` receiver) goes through Flask-Login as before.
    """
    # The deprecated header loader has no public getter (its setter warns); the request loader has one.
    if session or login_manager.request_callback is not None or login_manager._header_callback is not None:
        return False
    if user_accessed.receivers or current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies:
        return False
    session.get(_USER_ID_KEY)  # read, as Flask-Login reads it: the answer varies by cookie
    # Where Flask-Login keeps the request's user: no public call sets it without loading or logging in.
    g._login_user = login_manager.anonymous_user()
    return True


class _StaffSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, never saved for a blueprint `without_session`.

    Flask-Login reads the session after every request, and a session read is answered with
    `Vary: Cookie`: 14 B on every answer to a node, which has no cookie and whose answer depends
    on none. Such a request is opened a session as usual (empty) and it is then neither saved nor
    named in Vary.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Flask builds the serializer anew for every request, cookie or not; it depends only on the
        # keys (and this class's fixed salt, digest and serializer), so one per set of keys is kept.
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if serializer is None:
                return None
            self._serializers[keys] = serializer
        return serializer

    def open_session(self, app: Flask, request: FlaskRequest) -> SecureCookieSession | None:
        # Without the cookie, what Flask opens (after it found the cookie missing by get(), which
        # werkzeug answers by raising and catching an HTTP exception): a new session, or None with no key.
        if self.get_cookie_name(app) not in request.cookies:
            return None if self.get_signing_serializer(app) is None else self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if request.blueprint in _SESSIONLESS:
            return
        if not session and not session.modified:
            # What Flask does for an empty session left as it was (a villager's lookup, a probe),
            # without first reading the cookie's seven settings it then has no cookie to use them on.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def without_session(blueprint: Blueprint) -> None:
    """Requests to this blueprint never read the staff session (they are signed, not logged in)."""
    _SESSIONLESS.add(blueprint.name)


def current_user() -> Staff | None:
    """The logged-in staff member, or None."""
    if "user" not in g:
        g.user = login_session.staff if login_session.is_authenticated else None
    return g.user


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
        audit.record(
            username or "?",
            "auth.login" if user else "auth.login_failed",
            request.remote_addr or "",
            {} if user else {"reason": error},
        )
        if user is not None:
            session.clear()
            login_user(StaffLogin(user, session_epoch(user)))
            session.permanent = True
            return redirect(safe_next(request.args.get("next")) or "/")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    """End the session, here and wherever else this person's cookie was copied to."""
    user = current_user()
    if user is not None:
        end_sessions(user)
        audit.record(user.username, "auth.logout", request.remote_addr or "")
    logout_user()
    session.clear()
    flash(_("已退出登录"))
    return redirect(url_for("auth.login"))
