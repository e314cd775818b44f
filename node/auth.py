"""Clerk accounts and login: hashed passwords, a session per clerk, lockout persisted in the database."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlparse

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from .capture import now
from .db import database
from .models import Clerk

bp = Blueprint("auth", __name__)

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
    if not name or len(name) > 64:
        raise ClerkError("请填写文书姓名（不超过64字）")
    if len(password) < PASSWORD_MIN:
        raise ClerkError(f"密码至少 {PASSWORD_MIN} 位")
    with database.atomic():
        if Clerk.get_or_none(Clerk.username == username) is not None:
            raise ClerkError(f"用户名 {username} 已存在")
        return Clerk.create(username=username, name=name, password_hash=generate_password_hash(password),
                            created_at=now())


def check_login(username: str, password: str) -> tuple[Clerk | None, str | None]:
    """Return (clerk, None) on success or (None, message); counts failures and locks after MAX_FAILURES."""
    generic = _("用户名或密码不正确")
    with database.atomic():
        clerk = Clerk.get_or_none(Clerk.username == username.strip().lower())
        if clerk is None or not clerk.active:
            # Hash anyway so an unknown name takes as long as a wrong password.
            check_password_hash(generate_password_hash("x"), password)
            return None, generic
        if clerk.locked_until is not None and clerk.locked_until > now():
            minutes = int((clerk.locked_until - now()).total_seconds() // 60) + 1
            return None, _("登录失败次数过多，账户已锁定，请 %(n)s 分钟后再试", n=minutes)
        if not check_password_hash(clerk.password_hash, password):
            clerk.failed_logins += 1
            if clerk.failed_logins >= MAX_FAILURES:
                clerk.failed_logins = 0
                clerk.locked_until = now() + LOCKOUT
                clerk.save()
                return None, _("登录失败次数过多，账户已锁定，请 %(n)s 分钟后再试", n=int(LOCKOUT.total_seconds() // 60))
            clerk.save()
            return None, generic
        clerk.failed_logins = 0
        clerk.locked_until = None
        clerk.last_login_at = now()
        clerk.save()
        return clerk, None


def current_clerk() -> Clerk | None:
    """The clerk logged in on this request, if any."""
    if "clerk" not in g:
        username = session.get("clerk")
        clerk = Clerk.get_or_none(Clerk.username == username) if username else None
        g.clerk = clerk if clerk is not None and clerk.active else None
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
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("requests.index")


def check_login_without_writing(username: str, password: str) -> tuple[Clerk | None, str | None]:
    """check_login for a node whose storage refuses writes: a lockout in force still holds."""
    clerk = Clerk.get_or_none(Clerk.username == username.strip().lower())
    if clerk is None or not clerk.active:
        check_password_hash(generate_password_hash("x"), password)
        return None, _("用户名或密码不正确")
    if clerk.locked_until is not None and clerk.locked_until > now():
        return None, _("登录失败次数过多，账户已锁定，请 %(n)s 分钟后再试",
                       n=int((clerk.locked_until - now()).total_seconds() // 60) + 1)
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
            clerk, error = check_login_without_writing(request.form.get("username", ""),
                                                       request.form.get("password", ""))
        if clerk is not None:
            session.clear()
            session["clerk"] = clerk.username
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username=request.form.get("username", "")), (
        401 if error else 200
    )


@bp.post("/logout")
def logout() -> Any:
    """End the session."""
    session.clear()
    return redirect(url_for("auth.login"))
