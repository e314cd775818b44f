"""The villager's status page on the node: receipt code + phone tail, masked, tiny, rate-limited.

The rate limit is kept in memory per client address (LOOKUP_LIMIT lookups per LOOKUP_WINDOW
seconds); it resets when the node restarts, which is acceptable for a page that reveals only
masked data and gives the same answer for an unknown code and a wrong phone tail.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from typing import Any

from flask import Blueprint, current_app, render_template, request

from shared import states
from shared.receipt_codes import format_code, is_valid, normalise
from shared.validation import mask_name

from . import meta
from .capture import catalogue
from .models import Request
from .requests_views import clock_text

bp = Blueprint("status", __name__)

LOOKUP_LIMIT = 10
LOOKUP_WINDOW = 600.0


class RateLimiter:
    """At most `limit` hits per `window` seconds for each key, in memory."""

    def __init__(self, limit: int, window: float):
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Count one hit; False when the key is over its limit (the hit is not counted then)."""
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            if len(self._hits) > 10_000:  # forget idle addresses so memory stays small
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return True


def limiter() -> RateLimiter:
    """This app's limiter (configurable with STATUS_LOOKUP_LIMIT / STATUS_LOOKUP_WINDOW)."""
    ext = current_app.extensions
    if "daiban_status_limiter" not in ext:
        ext["daiban_status_limiter"] = RateLimiter(int(current_app.config.get("STATUS_LOOKUP_LIMIT", LOOKUP_LIMIT)),
                                                   float(current_app.config.get("STATUS_LOOKUP_WINDOW", LOOKUP_WINDOW)))
    return ext["daiban_status_limiter"]


def find(code: str, tail: str) -> Request | None:
    """The request only when both the code and the phone's last four digits match."""
    if not is_valid(code) or len(tail) != 4 or not tail.isdigit():
        return None
    req = Request.get_or_none(Request.receipt_code == normalise(code))
    if req is None or req.purged or not hmac.compare_digest(req.phone[-4:], tail):
        return None
    return req


def public_view(req: Request) -> dict[str, Any]:
    """Only what a villager may see: masked name, item, window, state, deadline, what is missing."""
    cat = catalogue()
    item = cat.item(req.item_code) or {}
    # Once the hub has the request, its list of what is missing is the one that counts.
    owed = cat.material_names(req.item_code, req.materials_missing or []) if req.state in states.NODE_ONLY \
        else list(req.hub_missing_names or [])
    return {
        "code": format_code(req.receipt_code),
        "name": mask_name(req.applicant_name),
        "item": item.get("name", req.item_code),
        "window": req.window_name or "",
        "state": states.label(req.state),
        # A due date only while one runs: none before 受理 (补正期间不计时) and none once closed.
        "deadline": clock_text(req, item) or None,
        "missing": [] if states.is_terminal(req.state) else owed,
        "reason": req.reason if req.state in (states.REFUSED, states.DENIED) else None,
    }


@bp.route("/status", methods=["GET", "POST"])
def lookup() -> Any:
    """Look up a request without logging in."""
    result = None
    message = None
    status = 200
    if request.method == "POST":
        if not limiter().hit(request.remote_addr or "?"):
            message = "查询太频繁，请10分钟后再试"
            status = 429
        else:
            req = find(request.form.get("code", ""), request.form.get("tail", "").strip())
            if req is None:
                message = "未查到：请核对回执码和手机号后四位"
            else:
                result = public_view(req)
    return render_template("status.html", result=result, message=message, as_of=meta.get("last_sync_ok")), status
