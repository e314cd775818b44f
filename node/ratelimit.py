"""Rate limits on the node: clerk logins per address and the villager's status page.

- Login: failed attempts per client address across all clerk accounts, on top of the
  per-account lockout in node.auth. ``LOGIN_LIMIT``, default ``20 per 15 minutes``.
- Status page: lookups per address (``STATUS_LOOKUP_LIMIT`` per ``STATUS_LOOKUP_WINDOW``
  seconds) and misses per receipt code (``STATUS_CODE_LIMIT``), the rule in shared.lookup_limits.

Counts are in a `limits` strategy, in memory (``RATELIMIT_STORAGE_URI``, default ``memory://``):
the node runs one process, and a restart forgetting them is acceptable for a page that shows
only masked data. The limits library and its dependencies cost the idle node about 3 MB
(docs/performance.md), so they are loaded on first need: the first failed login or the first
status lookup. Until then no address has used any allowance, so a login has nothing to check
(with memory storage; any other storage outlives the process and is checked on every login).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any, Callable

from flask import Flask, Response, current_app, make_response, render_template, request

from shared import lookup_limits

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import RateLimiter

DEFAULT_LOGIN_LIMIT = "20 per 15 minutes"
DEFAULT_STATUS_LOOKUP_LIMIT = 10
DEFAULT_STATUS_WINDOW_S = 600.0

_made = threading.Lock()


def limiter() -> RateLimiter:
    """This app's `limits` strategy, made on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with _made:
        strategy: RateLimiter | None = app.extensions.get("daiban_limiter")
        if strategy is None:
            from limits.storage import storage_from_string
            from limits.strategies import STRATEGIES

            name = app.config.get("RATELIMIT_STRATEGY") or "moving-window"
            strategy = STRATEGIES[name](storage_from_string(lookup_limits.storage_uri(app.config)))
            app.extensions["daiban_limiter"] = strategy
    return strategy


def _login_limits() -> list[RateLimitItem]:
    from limits import parse_many

    return parse_many(str(current_app.config.get("LOGIN_LIMIT") or DEFAULT_LOGIN_LIMIT))


def _login_breached(reset_at: float) -> Response:
    wait = lookup_limits.retry_after(reset_at)
    resp = Response(
        render_template(
            "login.html",
            error=f"登录尝试过于频繁，请 {(wait + 59) // 60} 分钟后再试",
            username=request.form.get("username", ""),
        ),
        status=429,
        mimetype="text/html",
    )
    resp.headers["Retry-After"] = str(wait)
    return resp


def _limit_failed_logins(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a login POST from an address whose failures used up the allowance; count failures."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        app = current_app
        if request.method != "POST" or not app.config.get("RATELIMIT_ENABLED", True):
            return view(*args, **kwargs)
        address = request.remote_addr or "127.0.0.1"
        if "daiban_limiter" in app.extensions or lookup_limits.storage_uri(app.config) != lookup_limits.MEMORY:
            strategy = limiter()
            for item in _login_limits():
                if not strategy.test(item, "login", address):
                    return _login_breached(strategy.get_window_stats(item, "login", address).reset_time)
        resp = make_response(view(*args, **kwargs))
        if resp.status_code >= 400:
            strategy = limiter()
            for item in _login_limits():
                strategy.hit(item, "login", address)
        return resp

    return guarded


def init_app(app: Flask) -> None:
    """The per-address limit on failed logins (the views live in blueprints that know nothing of limits)."""
    app.view_functions["auth.login"] = _limit_failed_logins(app.view_functions["auth.login"])


def _code_limits() -> list[RateLimitItem]:
    return lookup_limits.per_code(current_app.config.get("STATUS_CODE_LIMIT"))


def allow_status_lookup(client: str, code: str) -> bool:
    """Count one lookup from an address; False when the address or the code has used up its allowance."""
    cfg = current_app.config
    address = lookup_limits.per_address(
        int(cfg.get("STATUS_LOOKUP_LIMIT", DEFAULT_STATUS_LOOKUP_LIMIT)),
        float(cfg.get("STATUS_LOOKUP_WINDOW", DEFAULT_STATUS_WINDOW_S)),
    )
    return lookup_limits.allow_lookup(limiter(), address, _code_limits(), client, code)


def status_miss(code: str) -> None:
    """Count one failed lookup against a receipt code."""
    lookup_limits.count_miss(limiter(), _code_limits(), code)
