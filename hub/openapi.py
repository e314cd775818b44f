"""The sync API described as OpenAPI 3.0 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from shared import protocol

ENVELOPE = {
    "type": "object",
    "required": ["body", "sig"],
    "properties": {
        "body": {"type": "object"},
        "sig": {"type": "string", "description": "base64 Ed25519 signature over canonical(body)"},
    },
}

EVENT = {
    "type": "object",
    "required": ["seq", "id", "type", "request_id", "data"],
    "properties": {
        "seq": {"type": "integer", "minimum": 1},
        "id": {"type": "string"},
        "type": {"type": "string", "enum": sorted(protocol.NODE_EVENT_TYPES)},
        "request_id": {"type": "string"},
        "at": {"type": "string"},
        "clerk": {"type": "string"},
        "data": {"type": "object"},
    },
}

RESPONSE_BODY = {
    "type": "object",
    "required": ["v", "kind", "node_id", "request_hash", "hub_time", "last_seq", "last_hash", "updates", "cursor", "more"],
    "properties": {
        "v": {"type": "integer"},
        "kind": {"type": "string", "enum": ["response"]},
        "node_id": {"type": "string"},
        "request_hash": {"type": "string"},
        "hub_time": {"type": "string"},
        "ack": {"type": "object", "nullable": True},
        "last_seq": {"type": "integer"},
        "last_hash": {"type": "string"},
        "updates": {"type": "array", "items": {"type": "object"}},
        "cursor": {"type": "integer"},
        "more": {"type": "boolean"},
        "catalogue": {"type": "object"},
        "history": {"type": "array", "items": {"type": "object"}},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string", "enum": sorted(protocol.ERRORS)}, "message": {"type": "string"}},
        },
    },
}

SIGNED_RESPONSE = {
    "type": "object",
    "required": ["body", "sig"],
    "properties": {"body": RESPONSE_BODY, "sig": {"type": "string"}},
}


def _responses(*codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        out[str(code)] = {
            "description": "signed response" if code == 200 else "signed refusal (body.error says why)",
            "content": {"application/json": {"schema": SIGNED_RESPONSE}},
        }
    return out


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Daiban hub sync API",
            "version": str(protocol.PROTOCOL_VERSION),
            "description": "Signed batches up, the village's status log down. See docs/protocol.md.",
        },
        "paths": {
            "/api/v1/sync": {
                "post": {
                    "summary": "Send a batch, poll for updates, or ask where to resume (hello)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ENVELOPE}},
                    },
                    "responses": _responses(200, 400, 403, 409, 413, 415),
                }
            },
            "/api/v1/attachments": {
                "post": {
                    "summary": "Resumable attachment upload: a signed chunk from `offset`, or an offset query "
                               "(empty data); the answer says how many bytes the hub holds",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ENVELOPE}},
                    },
                    "responses": _responses(200, 400, 403, 404, 413, 415, 422),
                }
            },
            "/api/v1/enroll": {
                "post": {
                    "summary": "Register a node key with a one-time enrolment code",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["v", "code", "pubkey"],
                                    "properties": {
                                        "v": {"type": "integer"},
                                        "code": {"type": "string"},
                                        "pubkey": {"type": "string"},
                                        "box_pubkey": {"type": "string",
                                                       "description": "X25519 key for USB response bundles"},
                                        "app_version": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "signed enrolment, with mac = HMAC-SHA256(code, canonical(body))",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["body", "sig", "mac"],
                                "properties": {"body": {"type": "object"}, "sig": {"type": "string"},
                                               "mac": {"type": "string"}}}}},
                        },
                        **_responses(400, 403, 413, 415),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"status": {"type": "string"}}}}}}},
                }
            },
        },
        "components": {"schemas": {"Envelope": ENVELOPE, "Event": EVENT, "ResponseBody": RESPONSE_BODY}},
    }
