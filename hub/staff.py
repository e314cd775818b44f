"""Staff accounts: creation, password checks with lockout, and who covers which window."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from . import settings
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database
from .models import Staff
from shared.msgid import N_

ROLES = {"staff": N_("窗口工作人员"), "supervisor": N_("效能监督"), "admin": N_("管理员")}
MAX_FAILURES = 5
PASSWORD_MIN = 8
LOCKOUT = timedelta(minutes=15)
# One answer for every failed login, so it tells nobody whether a username exists or is locked.
LOGIN_FAILED = f"用户名或密码错误（连续输错 {MAX_FAILURES} 次的账号将锁定 {int(LOCKOUT.total_seconds() // 60)} 分钟）"


class StaffError(ValueError):
    """A staff record that cannot be saved, with a sentence for the admin."""


def _check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise StaffError(f"密码至少 {PASSWORD_MIN} 位")


def create_user(
    username: str, name: str, password: str, role: str = "staff", windows: list[str] | None = None
) -> Staff:
    """Create a staff account with a hashed password."""
    if role not in ROLES:
        raise StaffError(f"角色只能是：{'、'.join(ROLES)}")
    _check_password(password)
    unknown = unknown_windows(windows or [])
    if unknown:
        raise StaffError(f"窗口编码不存在：{'、'.join(unknown)}")
    if Staff.get_or_none(Staff.username == username):
        raise StaffError(f"用户名 {username} 已存在")
    return Staff.create(
        username=username,
        name=name,
        password_hash=generate_password_hash(password),
        role=role,
        windows=list(windows or []),
        created_at=now(),
    )


def unknown_windows(codes: list[str]) -> list[str]:
    """The codes among these that name no window of the catalogue in force (windows are catalogue data)."""
    known = {w["code"] for w in current_catalogue().windows()}
    return [c for c in codes if c not in known]


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-password")


def authenticate(username: str, password: str) -> tuple[Staff | None, str | None]:
    """(staff, None) on success, else (None, Chinese reason); failures count toward a lockout.

    Every failure hashes once and answers LOGIN_FAILED, so neither the time taken nor the
    words tell an unknown, disabled or locked account from a wrong password.
    """
    user = Staff.get_or_none(Staff.username == username)
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)
        return None, LOGIN_FAILED
    if user.locked_until and user.locked_until > now():
        check_password_hash(_dummy_hash(), password)
        return None, LOGIN_FAILED
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        locking = user.failed_logins >= MAX_FAILURES
        if locking:
            user.locked_until = now() + LOCKOUT
            user.failed_logins = 0
        with database.atomic():
            user.save()
            if locking:
                end_sessions(user)
        return None, LOGIN_FAILED
    user.failed_logins = 0
    user.locked_until = None
    user.save()
    return user, None


def _epoch_key(user: Staff) -> str:
    return f"session_epoch:{user.id}"


def session_epoch(user: Staff) -> int:
    """The generation of this person's sessions; a session made under an older one is void."""
    return int(settings.get(_epoch_key(user)) or 0)


def end_sessions(user: Staff) -> None:
    """Void every session this person has, on every browser (logout, password change, lockout, disabling)."""
    with database.atomic():
        settings.put(_epoch_key(user), str(session_epoch(user) + 1))


def set_password(user: Staff, password: str) -> None:
    """Give a person a new password; their open sessions end."""
    _check_password(password)
    with database.atomic():
        user.password_hash = generate_password_hash(password)
        user.failed_logins = 0
        user.locked_until = None
        user.save()
        end_sessions(user)


def set_active(user: Staff, active: bool) -> None:
    """Enable or disable an account; disabling ends its open sessions."""
    with database.atomic():
        user.active = active
        user.save()
        end_sessions(user)


def set_windows(user: Staff, windows: list[str]) -> list[str]:
    """Put a person on these windows (codes from the catalogue in force); returns the windows newly covered."""
    windows = list(dict.fromkeys(windows))
    unknown = unknown_windows(windows)
    if unknown:
        raise StaffError(f"窗口编码不存在：{'、'.join(c[:8] for c in unknown[:5])}")
    added = [w for w in windows if w not in (user.windows or [])]
    user.windows = windows
    user.save()
    return added


def covers(user: Staff, window: str) -> bool:
    """Whether the person may act on cases of a window (supervisors and admins see all)."""
    return user.role in ("supervisor", "admin") or window in (user.windows or [])


def may_handle(user: Staff, case: object) -> bool:
    """Whether the person may see and act on a case: its window is theirs, or it is theirs (AB角 hand-over)."""
    return covers(user, getattr(case, "window", "")) or getattr(case, "assignee", None) == user.username


SYSTEM_NAME = "系统"


def display_name(username: object) -> str:
    """How people are named on every page: a staff member's display name, 系统 for automatic steps.

    Read once per request (a page may name many people); a name that is no staff login (a village
    clerk's own name, say) is shown as it was recorded.
    """
    from flask import g, has_app_context

    if not username:
        return ""
    if username == "system":
        return SYSTEM_NAME
    names: dict[str, str] | None = getattr(g, "_staff_names", None) if has_app_context() else None
    if names is None:
        names = {s.username: s.name for s in Staff.select(Staff.username, Staff.name)}
        if has_app_context():
            g._staff_names = names
    return names.get(str(username), str(username))
