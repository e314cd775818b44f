"""The sync API blueprint: /api/v1/sync, /api/v1/enroll, /api/v1/openapi.json and /healthz."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from shared import encoding, protocol

from . import enrolment, keys
from .ingest import handle_sync
from .openapi import spec

bp = Blueprint("api", __name__)

JSON = "application/json"


# Request bodies this hub reads, told to every node on every answer (RFC 7694): a node sends
# zstd only to a hub that said so, and deflate to any other (docs/protocol.md).
ACCEPTED_BODY_ENCODINGS = "zstd, deflate"


# An answer's updates repeat the same few fields: zstd 17 takes them within 0.2 % of 19's bytes
# (58 B for 1,000 updates) in about 60 % of its CPU, which the node waits for on a slow link
# (docs/performance.md, "2G: where the seconds beyond the bytes go").
ANSWER_SLOW_LINK_LEVEL = 17
# An answer over ANSWER_LARGE (a batch of some 700 captures or more: ~380 B per update) is packed at
# the LAN level with smaller search tables than the level picks for its size: they stay in the CPU's
# cache, and on the e2e bench's answers of 1,000 updates took 40-55 % less CPU for as many bytes or
# fewer (383 kB: 24,994 -> 24,936 B; 642 kB: 40,409 -> 40,281 B; docs/performance.md, "End to end,
# hub side"). The same frame format: a node reads it as any other.
ANSWER_LARGE = 256 * 1024
ANSWER_LARGE_TUNING = {"hash_log": 16, "chain_log": 16}


def _signed(status: int, raw: bytes) -> Response:
    resp = Response(raw, status=status, mimetype=JSON)
    resp.headers["Accept-Encoding"] = ACCEPTED_BODY_ENCODINGS
    # Updates for a village are most of the bytes down a 2G link: compress them the best way the
    # node reads (zstd, else deflate; docs/protocol.md "Compression"), whenever that is fewer bytes
    # with the headers it adds (the hello's answer too, which every sync gets).
    readable = encoding.named_encodings(request.headers.get("Accept-Encoding"))
    coding = "zstd" if "zstd" in readable else "deflate" if "deflate" in readable else None
    if coding is not None:
        # A node over a slow link says so (docs/protocol.md, "Daiban-Link"): there bytes cost
        # more than CPU, so zstd at its strongest level; a hub not knowing the header ignores it.
        slow = request.headers.get("Daiban-Link", "").strip().lower() == "slow"
        level = ANSWER_SLOW_LINK_LEVEL if slow else encoding.ZSTD_LEVEL
        tuning = ANSWER_LARGE_TUNING if not slow and len(raw) > ANSWER_LARGE else None
        packed = encoding.compress_zstd(raw, level, tuning) if coding == "zstd" else encoding.compress(raw)
        if encoding.pays(len(raw), len(packed), coding, answer=True):
            resp.set_data(packed)
            resp.headers["Content-Encoding"] = coding
            resp.vary.add("Accept-Encoding")
    return resp


def _hub_key():  # type: ignore[no-untyped-def]
    return current_app.extensions["daiban_hub_key"]


def _read_body() -> bytes:
    """The request body, inflated within the limit; ProtocolError when it cannot be read."""
    if (request.mimetype or "") != JSON:
        raise protocol.error("bad_content_type")
    raw = request.get_data(cache=False)
    inflate = {"deflate": encoding.decompress, "zstd": encoding.decompress_zstd}.get(
        request.headers.get("Content-Encoding", "").strip().lower()
    )
    if inflate is not None:
        try:
            raw = inflate(raw, protocol.MAX_INFLATED_BYTES)
        except encoding.EncodingError as exc:
            code = "too_large" if "limit" in str(exc) else "bad_body"
            raise protocol.error(code, detail=str(exc)) from exc
    return raw


def signed_refusal(exc: protocol.ProtocolError, chain: list[dict[str, Any]] | None = None) -> Response:
    """A refusal in the API's one signed error format (also the rate limiter's and admission's 429)."""
    body = protocol.refusal_body(exc)
    return _signed(exc.status, protocol.seal(_hub_key(), keys.decorate(body, protocol.PROTOCOL_VERSION, chain)))


@bp.post("/api/v1/sync")
def sync() -> Response:
    """Take one signed message from a node and answer with a signed response."""
    try:
        raw = _read_body()
    except protocol.ProtocolError as exc:
        return signed_refusal(exc)
    status, out = handle_sync(raw, _hub_key())
    return _signed(status, out)


@bp.post("/api/v1/attachments")
def attachment_chunk() -> Response:
    """Take one signed attachment chunk (or offset query); answer with the bytes the hub holds."""
    from .attachments import handle_chunk

    try:
        raw = _read_body()
    except protocol.ProtocolError as exc:
        return signed_refusal(exc)
    status, out = handle_chunk(raw, _hub_key(), current_app.config["DATA_DIR"])
    return _signed(status, out)


@bp.post("/api/v1/enroll")
def enroll() -> Response:
    """One round of enrolment v2 (SPAKE2 on the one-time code); the answer is signed."""
    try:
        body = enrolment.handle(
            encoding.parse(_read_body()), _hub_key(), current_app.extensions.get("daiban_hub_box_key")
        )
    except encoding.EncodingError as exc:
        return signed_refusal(protocol.error("bad_body", detail=str(exc)))
    except protocol.ProtocolError as exc:
        return signed_refusal(exc)
    return _signed(200, protocol.seal(_hub_key(), body))


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    """The sync API as OpenAPI 3."""
    return jsonify(spec())


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness and database reachability."""
    from .db import database

    database.execute_sql("SELECT 1")
    return jsonify({"status": "ok", "service": "hub", "protocol": protocol.PROTOCOL_VERSION})


@bp.app_errorhandler(413)
def too_large(_exc: Exception) -> Response:
    """Bodies over the limit get the documented refusal, so the node splits its batch."""
    return signed_refusal(protocol.error("too_large", limit=protocol.MAX_BODY_BYTES))
