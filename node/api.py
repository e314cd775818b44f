"""The node's JSON API for automation and tests (bearer token), and /healthz."""

from __future__ import annotations

import hashlib
import hmac
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, Response, abort, jsonify, request

from shared import states

from . import meta
from .capture import CaptureError, capture_request
from .models import Request

bp = Blueprint("node_api", __name__)


def token_hash(token: str) -> str:
    """Only a hash of the API token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Allow the call only with the node's API token as a bearer token."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        stored = meta.get("api_token_hash")
        if (
            not stored
            or not header.startswith("Bearer ")
            or not hmac.compare_digest(token_hash(header[7:].strip()), stored)
        ):
            abort(401)
        return view(*args, **kwargs)

    return wrapped


def request_json(req: Request) -> dict[str, Any]:
    """A request as the API shows it."""
    return {
        "request_id": req.request_id,
        "receipt_code": req.receipt_code,
        "item_code": req.item_code,
        "state": req.state,
        "state_label": states.LABELS.get(req.state, req.state),
        "window": req.window,
        "window_name": req.window_name,
        "deadline": req.deadline,
        "missing": req.hub_missing,
        "missing_names": req.hub_missing_names,
        "reason": req.reason,
        "legal_basis": req.legal_basis,
        "needs_attention": req.needs_attention,
    }


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness and database reachability."""
    from .db import database

    from flask import current_app

    from . import storage

    database.execute_sql("SELECT 1")
    trouble = storage.status(current_app.config["DATA_DIR"])
    body = {
        "status": "degraded" if trouble else "ok",
        "service": "node",
        "enrolled": bool(meta.get("node_id")),
        "storage": trouble or "ok",
    }
    if trouble:
        # Still serving reads, but nothing new can be saved: monitoring must see it.
        body["message"] = storage.MESSAGES[trouble]
        return jsonify(body), 503  # type: ignore[return-value]
    return jsonify(body)


@bp.post("/api/v1/requests")
@require_token
def create_request() -> tuple[Response, int]:
    """Capture a request from JSON; 422 with every field error when invalid."""
    form = request.get_json(silent=True)
    if not isinstance(form, dict):
        return jsonify({"errors": [{"field": "", "code": "format", "message": "请求须为 JSON 对象"}]}), 400
    clerk = str(form.pop("clerk", "api"))[:64]
    try:
        req = capture_request(form, clerk)
    except CaptureError as exc:
        return jsonify({"errors": [e.__dict__ for e in exc.errors]}), 422
    from .scheduler import kick

    kick()
    return jsonify(request_json(req)), 201


@bp.get("/api/v1/requests/<code>")
@require_token
def get_request(code: str) -> Response:
    """One request by receipt code."""
    from shared.receipt_codes import normalise

    req = Request.get_or_none(Request.receipt_code == normalise(code))
    if req is None:
        abort(404)
    return jsonify(request_json(req))
