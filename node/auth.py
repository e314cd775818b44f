"""Clerk accounts and login: hashed passwords, a session per clerk, lockout persisted in the database.

Flask-Login keeps the logged-in clerk under the id "username:session epoch" (its
alternative-id pattern). Logout, a password change, a lockout or disabling the account moves
the epoch on (end_sessions), so a copied cookie of an earlier session loads nobody.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from functools import cache, wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_login import current_user as login_session
from werkzeug.security import check_password_hash, generate_password_hash

from shared.redirects import safe_next
from shared.validation import CLERK_NAME_MAX, has_control

from . import meta
from .capture import now
from .db import database
from .models import Clerk

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD_MIN = 8
USERNAME_RE = re.compile(r"[a-z0-9_.-]{2,32}")


class ClerkError(ValueError):
    """A clerk account could not be made; the message is for people."""


def add_clerk(username: str, name: str, password: str) -> Clerk:
    """Create a clerk account with a hashed password."""
    username = username.strip().lower()
    name = name.strip()
    if not USERNAME_RE.fullmatch(username):
        raise ClerkError("用户名须为 2–32 位小写字母、数字或 _ . -")
    # The name travels in each event the clerk makes (the hub refuses a batch holding U+0000 whole).
    if not name or len(name) > CLERK_NAME_MAX or has_control(name):
        raise ClerkError(f"请填写代办员姓名（不超过{CLERK_NAME_MAX}字）")
    if len(password) < PASSWORD_MIN:
        raise ClerkError(f"密码至少 {PASSWORD_MIN} 位")
    with database.atomic():
        if Clerk.get_or_none(Clerk.username == username) is not None:
            raise ClerkError(f"用户名 {username} 已存在")
        return Clerk.create(
            username=username, name=name, password_hash=generate_password_hash(password), created_at=now()
        )


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-password")


def _failed() -> str:
    # One answer for every failure: it tells nobody whether the account exists or is locked.
    return _(
        "用户名或密码不正确（连续输错 %(max)s 次的账户将锁定 %(n)s 分钟）",
        max=MAX_FAILURES,
        n=int(LOCKOUT.total_seconds() // 60),
    )


def check_login(username: str, password: str) -> tuple[Clerk | None, str | None]:
    """Return (clerk, None) on success or (None, message); counts failures and locks after MAX_FAILURES."""
    with database.atomic():
        clerk = Clerk.get_or_none(Clerk.username == username.strip().lower())
        if clerk is None or not clerk.active or (clerk.locked_until is not None and clerk.locked_until > now()):
            # Hash anyway so an unknown or locked name takes as long as a wrong password.
            check_password_hash(_dummy_hash(), password)
            return None, _failed()
        if not check_password_hash(clerk.password_hash, password):
            clerk.failed_logins += 1
            if clerk.failed_logins >= MAX_FAILURES:
                clerk.failed_logins = 0
                clerk.locked_until = now() + LOCKOUT
                end_sessions(clerk)
            clerk.save()
            return None, _failed()
        clerk.failed_logins = 0
        clerk.locked_until = None
        clerk.last_login_at = now()
        clerk.save()
        return clerk, None


def _epoch_key(username: str) -> str:
    return f"session_epoch:{username}"


def session_epoch(clerk: Clerk) -> int:
    """The generation of this clerk's sessions; a session made under an older one is void."""
    return int(meta.get(_epoch_key(clerk.username), 0))


def end_sessions(clerk: Clerk) -> None:
    """Void every session of this clerk (logout, password change, lockout, disabling)."""
    with database.atomic():
        meta.put(_epoch_key(clerk.username), session_epoch(clerk) + 1)


def set_password(username: str, password: str) -> Clerk:
    """Give a clerk a new password; their open sessions end."""
    if len(password) < PASSWORD_MIN:
        raise ClerkError(f"密码至少 {PASSWORD_MIN} 位")
    with database.atomic():
        clerk = Clerk.get_or_none(Clerk.username == username.strip().lower())
        if clerk is None:
            raise ClerkError(f"没有用户 {username}")
        clerk.password_hash = generate_password_hash(password)
        clerk.failed_logins = 0
        clerk.locked_until = None
        clerk.save()
        end_sessions(clerk)
    return clerk


def set_active(username: str, active: bool) -> Clerk:
    """Enable or disable a clerk account; disabling ends its open sessions."""
    with database.atomic():
        clerk = Clerk.get_or_none(Clerk.username == username.strip().lower())
        if clerk is None:
            raise ClerkError(f"没有用户 {username}")
        clerk.active = active
        clerk.save()
        end_sessions(clerk)
    return clerk


class ClerkLogin(UserMixin):
    """A clerk as Flask-Login holds them: the id names the session epoch too."""

    def __init__(self, clerk: Clerk, epoch: int):
        self.clerk = clerk
        self.epoch = epoch

    def get_id(self) -> str:
        return f"{self.clerk.username}:{self.epoch}"


@login_manager.user_loader
def _load(alt_id: str) -> ClerkLogin | None:
    username, _sep, epoch = alt_id.rpartition(":")
    if not epoch.isdigit():
        return None
    clerk = Clerk.get_or_none(Clerk.username == username)
    if clerk is None or not clerk.active or session_epoch(clerk) != int(epoch):
        return None
    return ClerkLogin(clerk, int(epoch))


def init_app(app: Flask) -> None:
    """Flask-Login for the clerk's pages."""
    login_manager.init_app(app)


def current_clerk() -> Clerk | None:
    """The clerk logged in on this request, if any."""
    if "clerk" not in g:
        g.clerk = login_session.clerk if login_session.is_authenticated else None
        if g.clerk is None and "_user_id" in session:
            session.clear()  # a void session: the browser gets a fresh one
    return g.clerk


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anyone not logged in to the login page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_clerk() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    # Only paths on this node: an open redirect would let a link send the clerk elsewhere.
    return safe_next(target) or url_for("requests.index")


def check_login_without_writing(username: str, password: str) -> tuple[Clerk | None, str | None]:
    """check_login for a node whose storage refuses writes: a lockout in force still holds."""
    clerk = Clerk.get_or_none(Clerk.username == username.strip().lower())
    if clerk is None or not clerk.active:
        check_password_hash(generate_password_hash("x"), password)
        return None, _("用户名或密码不正确")
    if clerk.locked_until is not None and clerk.locked_until > now():
        return None, _(
            "登录失败次数过多，账户已锁定，请 %(n)s 分钟后再试",
            n=int((clerk.locked_until - now()).total_seconds() // 60) + 1,
        )
    if not check_password_hash(clerk.password_hash, password):
        return None, _("用户名或密码不正确")
    return clerk, None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Log in with username and password."""
    error = None
    if request.method == "POST":
        try:
            clerk, error = check_login(request.form.get("username", ""), request.form.get("password", ""))
        except Exception as exc:
            from . import storage

            if storage.classify(exc) is None:
                raise
            # The disk is full or read-only: failures cannot be counted, but a clerk may still get in to read.
            storage.note(storage.classify(exc) or storage.IO)
            clerk, error = check_login_without_writing(
                request.form.get("username", ""), request.form.get("password", "")
            )
        if clerk is not None:
            session.clear()
            login_user(ClerkLogin(clerk, session_epoch(clerk)))
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username=request.form.get("username", "")), (
        401 if error else 200
    )


@bp.post("/logout")
def logout() -> Any:
    """End the session, here and wherever else this clerk's cookie was copied to."""
    clerk = current_clerk()
    if clerk is not None:
        end_sessions(clerk)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
