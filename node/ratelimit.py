"""Rate limits on the node, through Flask-Limiter: clerk logins per address and the villager's status page.

- Login: failed attempts per client address across all clerk accounts, on top of the
  per-account lockout in node.auth. ``LOGIN_LIMIT``, default ``20 per 15 minutes``.
- Status page: lookups per address (``STATUS_LOOKUP_LIMIT`` per ``STATUS_LOOKUP_WINDOW``
  seconds) and misses per receipt code (``STATUS_CODE_LIMIT``), the rule in shared.lookup_limits.

Counts are in memory (``RATELIMIT_STORAGE_URI``, default ``memory://``): the node runs one
process, and a restart forgetting them is acceptable for a page that shows only masked data.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, render_template, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits import RateLimitItem

from shared import lookup_limits

DEFAULT_LOGIN_LIMIT = "20 per 15 minutes"
DEFAULT_STATUS_LOOKUP_LIMIT = 10
DEFAULT_STATUS_WINDOW_S = 600.0


def limiter() -> Limiter:
    """This app's limiter."""
    limiter: Limiter = current_app.extensions["daiban_limiter"]
    return limiter


def _failed(resp: Response) -> bool:
    return resp.status_code >= 400


def _login_breached(hit: RequestLimit) -> Response:
    wait = lookup_limits.retry_after(hit.reset_at)
    resp = Response(render_template("login.html", error=f"登录尝试过于频繁，请 {(wait + 59) // 60} 分钟后再试",
                                    username=request.form.get("username", "")), status=429, mimetype="text/html")
    resp.headers["Retry-After"] = str(wait)
    return resp


def _limit_view(app: Flask, endpoint: str, limit: Any) -> None:
    # The views live in blueprints that know nothing of limits; they are wrapped here, once.
    app.view_functions[endpoint] = limit(app.view_functions[endpoint])


def init_app(app: Flask) -> None:
    """One limiter per app, and the per-address limit on failed logins."""
    ext = Limiter(get_remote_address, storage_uri=app.config.get("RATELIMIT_STORAGE_URI") or "memory://",
                  strategy=app.config.get("RATELIMIT_STRATEGY") or "moving-window")
    ext.init_app(app)
    app.extensions["daiban_limiter"] = ext
    login = ext.limit(lambda: str(current_app.config.get("LOGIN_LIMIT") or DEFAULT_LOGIN_LIMIT),
                      methods=["POST"], deduct_when=_failed, on_breach=_login_breached)
    _limit_view(app, "auth.login", login)


def _code_limits() -> list[RateLimitItem]:
    return lookup_limits.per_code(current_app.config.get("STATUS_CODE_LIMIT"))


def allow_status_lookup(client: str, code: str) -> bool:
    """Count one lookup from an address; False when the address or the code has used up its allowance."""
    cfg = current_app.config
    address = lookup_limits.per_address(int(cfg.get("STATUS_LOOKUP_LIMIT", DEFAULT_STATUS_LOOKUP_LIMIT)),
                                        float(cfg.get("STATUS_LOOKUP_WINDOW", DEFAULT_STATUS_WINDOW_S)))
    return lookup_limits.allow_lookup(limiter().limiter, address, _code_limits(), client, code)


def status_miss(code: str) -> None:
    """Count one failed lookup against a receipt code."""
    lookup_limits.count_miss(limiter().limiter, _code_limits(), code)
