"""Staff accounts: creation, password checks with lockout, and who covers which window."""

from __future__ import annotations

from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from shared.catalogue import WINDOWS

from .clock import now
from .models import Staff

ROLES = {"staff": "窗口工作人员", "supervisor": "效能监督", "admin": "管理员"}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
WINDOW_CODES = {w["code"] for w in WINDOWS}


class StaffError(ValueError):
    """A staff record that cannot be saved, with a sentence for the admin."""


def create_user(username: str, name: str, password: str, role: str = "staff",
                windows: list[str] | None = None) -> Staff:
    """Create a staff account with a hashed password."""
    if role not in ROLES:
        raise StaffError(f"角色只能是：{'、'.join(ROLES)}")
    if len(password) < 8:
        raise StaffError("密码至少 8 位")
    unknown = [w for w in windows or [] if w not in WINDOW_CODES]
    if unknown:
        raise StaffError(f"窗口编码不存在：{'、'.join(unknown)}")
    if Staff.get_or_none(Staff.username == username):
        raise StaffError(f"用户名 {username} 已存在")
    return Staff.create(username=username, name=name, password_hash=generate_password_hash(password),
                        role=role, windows=list(windows or []), created_at=now())


def authenticate(username: str, password: str) -> tuple[Staff | None, str | None]:
    """(staff, None) on success, else (None, Chinese reason); failures count toward a lockout."""
    user = Staff.get_or_none(Staff.username == username)
    if user is None or not user.active:
        # Same answer as a wrong password, so usernames cannot be probed.
        return None, "用户名或密码错误"
    if user.locked_until and user.locked_until > now():
        return None, "连续输错密码次数过多，账号已锁定 15 分钟"
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now() + LOCKOUT
            user.failed_logins = 0
        user.save()
        return None, "用户名或密码错误"
    user.failed_logins = 0
    user.locked_until = None
    user.save()
    return user, None


def covers(user: Staff, window: str) -> bool:
    """Whether the person may act on cases of a window (supervisors and admins see all)."""
    return user.role in ("supervisor", "admin") or window in (user.windows or [])
