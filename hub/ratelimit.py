"""Rate limits on the hub, all through Flask-Limiter: logins, enrolment and the public status page.

- Login: failed attempts per client address across all accounts (password spraying), on top
  of the per-account lockout in hub.staff. ``LOGIN_LIMIT``, default ``20 per 15 minutes``.
- Enrolment (``POST /api/v1/enroll``): failed attempts per address (code guessing);
  ``ENROLL_LIMIT``, default ``10 per hour``; answered with the API's signed ``rate_limited`` error.
- Status page: lookups per address (``STATUS_LOOKUP_LIMIT`` per ``STATUS_LOOKUP_PERIOD_S``), and
  misses per receipt code (``STATUS_CODE_LIMIT``, default ``10 per hour;30 per day``): the
  rule is shared.lookup_limits, which the node's status page uses too.

Counts live in the limiter's storage (``RATELIMIT_STORAGE_URI``, default ``memory://``, served
by `SweptMemoryStorage`), never in the database, so a lookup writes nothing durable. In memory
each worker process counts on its own: with N gunicorn workers an address gets up to N times the
allowance; point ``RATELIMIT_STORAGE_URI`` at a shared store (e.g. ``redis://``) for an
exact limit. Behind a reverse proxy, run the hub with werkzeug's ProxyFix so the address is the client's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask, Response, current_app, render_template
from flask.globals import request_ctx
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits import RateLimitItem
from limits.storage import MemoryStorage

from shared import lookup_limits, protocol

DEFAULT_LOGIN_LIMIT = "20 per 15 minutes"
DEFAULT_ENROLL_LIMIT = "10 per hour"
ENROLL_PREFIX = "/api/v1/enroll"
DEFAULT_STATUS_LOOKUP_LIMIT = 10
DEFAULT_STATUS_PERIOD_S = 600

# Flask-Limiter's own limits that reach every endpoint when configured; none are by default.
APP_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")
SWEEP_EVERY_S = 1.0


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory storage, its expired counts swept at most once a second.

    The stock storage starts a thread to sweep 10 ms after every count when none is running, and
    waits for it to start: at hundreds of status lookups a second, a thread per few lookups, and
    a lookup held until the new thread got the GIL. Every read checks expiry itself; the sweep
    only frees memory, so sweeping less often counts exactly the same.
    """

    STORAGE_SCHEME = ["daiban-memory"]

    def __init__(self, *args: Any, **kwargs: Any):
        self._next_sweep = 0.0
        super().__init__(*args, **kwargs)

    def _MemoryStorage__schedule_expiry(self) -> None:  # the stock storage's private hook, called on every count
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY_S
            super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]  # name-mangled, so unseen


class HubLimiter(Limiter):
    """Flask-Limiter, its check before every request made only when some limit reaches every view.

    The hub's limits decorate their views (login, enrolment), and a decorated view checks its own
    limits when called; the check before each request adds only app-wide limits
    (`APP_WIDE_LIMITS`). With none configured it found nothing to count on any page, for ~100 µs
    a request, every page and sync request included. Should Flask-Limiter stop calling this method
    so, the stock check runs again: slower, never fewer limits.
    """

    def __init__(self, *args: Any, app_wide: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.app_wide = app_wide

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and not self.app_wide:
            return
        super()._check_request_limit(callable_name, in_middleware)

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        self.hooks_kept_to_its_requests = _only_when_used(app, self)


def _used() -> bool:
    # Flask-Limiter keeps what a request's checks found on the request context, made on first use.
    return hasattr(request_ctx._get_current_object(), "_limiter_request_context")  # type: ignore[attr-defined]


def _only_when_used(app: Flask, ext: Limiter) -> int:
    """Flask-Limiter's after-request and teardown hooks, run only for a request that used the limiter.

    After every request Flask-Limiter made the request's limiter context (to find no deductions
    that depend on the answer and no limit to put in headers), and made it again at teardown to
    clear it: ~20 µs on every page and sync request. A request no limit was checked on (no limited
    view, no app-wide limit; the status page counts in the storage itself) has nothing for them to
    do. Returns how many of the two hooks were found (a test holds it at 2: should Flask-Limiter
    register them otherwise, they run as before, on every request).
    """
    found = 0
    inject = getattr(Limiter, "_Limiter__inject_headers", None)
    after = app.after_request_funcs.get(None, [])
    for i, hook in enumerate(after):
        if isinstance(hook, partial) and hook.func is inject and hook.args == (ext,):
            after[i] = _if_used_after(hook)
            found += 1
    release = getattr(Limiter, "_Limiter__release_context", None)
    teardown = app.teardown_request_funcs.get(None, [])
    for i, hook in enumerate(teardown):
        if getattr(hook, "__func__", None) is release and getattr(hook, "__self__", None) is ext:
            teardown[i] = _if_used_teardown(hook)  # type: ignore[arg-type]  # Flask-Limiter's, not async
            found += 1
    return found


def _if_used_after(hook: Callable[[Response], Response]) -> Callable[[Response], Response]:
    def after(response: Response) -> Response:
        return hook(response) if _used() else response

    return after


def _if_used_teardown(hook: Callable[[BaseException | None], None]) -> Callable[[BaseException | None], None]:
    def teardown(exc: BaseException | None = None) -> None:
        if _used():
            hook(exc)

    return teardown


def storage_uri(app: Flask) -> str:
    """The configured limiter storage; in memory, the swept one."""
    uri = lookup_limits.storage_uri(app.config)
    return f"{SweptMemoryStorage.STORAGE_SCHEME[0]}://" if uri == lookup_limits.MEMORY else uri


def limiter() -> Limiter:
    """This app's limiter."""
    limiter: Limiter = current_app.extensions["daiban_limiter"]
    return limiter


def _failed(resp: Response) -> bool:
    return resp.status_code >= 400


def _login_breached(hit: RequestLimit) -> Response:
    wait = lookup_limits.retry_after(hit.reset_at)
    resp = Response(
        render_template("login.html", error=f"登录尝试过于频繁，请 {(wait + 59) // 60} 分钟后再试"),
        status=429,
        mimetype="text/html",
    )
    resp.headers["Retry-After"] = str(wait)
    return resp


def _enroll_breached(hit: RequestLimit) -> Response:
    from .api import signed_refusal  # the API's one signed error format

    wait = lookup_limits.retry_after(hit.reset_at)
    resp = signed_refusal(protocol.error("rate_limited", retry_after=wait))
    resp.headers["Retry-After"] = str(wait)
    return resp


def _limit_view(app: Flask, endpoint: str, limit: Any) -> None:
    # The views live in blueprints that know nothing of limits; they are wrapped here, once.
    app.view_functions[endpoint] = limit(app.view_functions[endpoint])


def init_app(app: Flask) -> None:
    """One limiter per app, and the limits on the login and enrolment views."""
    ext = HubLimiter(
        get_remote_address,
        storage_uri=storage_uri(app),
        strategy=app.config.get("RATELIMIT_STRATEGY") or "moving-window",
        # The status page counts its lookups itself (allow_status_lookup), the login and enrolment
        # views by their decorators below: only a limit configured for every view needs the check
        # before each request.
        app_wide=any(app.config.get(k) for k in APP_WIDE_LIMITS),
    )
    ext.init_app(app)
    app.extensions["daiban_limiter"] = ext
    login = ext.limit(
        lambda: str(current_app.config.get("LOGIN_LIMIT") or DEFAULT_LOGIN_LIMIT),
        methods=["POST"],
        deduct_when=_failed,
        on_breach=_login_breached,
    )
    _limit_view(app, "auth.login", login)
    # Every enrolment step (today one endpoint) shares one allowance per address.
    enroll = ext.shared_limit(
        lambda: str(current_app.config.get("ENROLL_LIMIT") or DEFAULT_ENROLL_LIMIT),
        scope="enroll",
        deduct_when=_failed,
        on_breach=_enroll_breached,
    )
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(ENROLL_PREFIX):
            _limit_view(app, rule.endpoint, enroll)


def _address_limit() -> RateLimitItem:
    cfg = current_app.config
    return lookup_limits.per_address(
        int(cfg.get("STATUS_LOOKUP_LIMIT", DEFAULT_STATUS_LOOKUP_LIMIT)),
        int(cfg.get("STATUS_LOOKUP_PERIOD_S", DEFAULT_STATUS_PERIOD_S)),
    )


def status_period_minutes() -> int:
    """The per-address window, in minutes, for the message."""
    return max(1, int(current_app.config.get("STATUS_LOOKUP_PERIOD_S", DEFAULT_STATUS_PERIOD_S)) // 60)


def allow_status_lookup(client: str, code: str) -> bool:
    """Count one lookup from an address; False when the address or the code has used up its allowance."""
    return lookup_limits.allow_lookup(
        limiter().limiter,
        _address_limit(),
        lookup_limits.per_code(current_app.config.get("STATUS_CODE_LIMIT")),
        client,
        code,
    )


def status_miss(code: str) -> None:
    """Count one failed lookup against a receipt code (wrong phone tail or unknown code)."""
    lookup_limits.count_miss(
        limiter().limiter, lookup_limits.per_code(current_app.config.get("STATUS_CODE_LIMIT")), code
    )
