"""The sync API described as OpenAPI 3.0 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from shared import encoding, protocol

from .attachments import ERRORS as ATTACHMENT_ERRORS

# Protocol JSON has no floats (shared.encoding refuses them) and is nested at most
# encoding.MAX_DEPTH deep, counted from the envelope. An event's data values sit at depth
# DATA_DEPTH (envelope > body > events > event > data > value), so free-form data is a
# chain of schemas, one per level, whose last level holds scalars only.
DATA_DEPTH = 5
_SCALARS = [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]


def _json_value_name(depth: int) -> str:
    return f"JsonValueAtDepth{depth}"


def json_value_schemas() -> dict[str, Any]:
    """Components for free-form event data, bounded exactly as the hub's parser bounds it."""
    out: dict[str, Any] = {}
    for depth in range(DATA_DEPTH, encoding.MAX_DEPTH + 1):
        options: list[dict[str, Any]] = list(_SCALARS)
        if depth < encoding.MAX_DEPTH:
            ref = {"$ref": f"#/components/schemas/{_json_value_name(depth + 1)}"}
            options += [{"type": "array", "items": ref}, {"type": "object", "additionalProperties": ref}]
        else:  # the deepest level: containers only when empty, since their contents would be too deep
            options += [{"type": "array", "maxItems": 0}, {"type": "object", "maxProperties": 0}]
        out[_json_value_name(depth)] = {"nullable": True, "anyOf": options}
    return out


EVENT = {
    "type": "object",
    "required": ["seq", "id", "type", "request_id", "data"],
    "properties": {
        "seq": {"type": "integer", "minimum": 1},
        "id": {"type": "string", "maxLength": 40},
        "type": {"type": "string", "enum": sorted(protocol.NODE_EVENT_TYPES)},
        "request_id": {"type": "string", "maxLength": 40},
        "at": {"type": "string"},
        "clerk": {"type": "string"},
        "data": {"type": "object",
                 "additionalProperties": {"$ref": f"#/components/schemas/{_json_value_name(DATA_DEPTH)}"}},
    },
    "additionalProperties": False,
}

_COMMON = {
    "v": {"type": "integer", "enum": sorted(protocol.SUPPORTED_VERSIONS)},
    "node_id": {"type": "string", "maxLength": 40},
    "node_clock": {"type": "string", "description": "the node's clock, ISO 8601 UTC; recorded, never trusted"},
    "cursor": {"type": "integer", "minimum": 0},
    "catalogue_version": {"type": "integer", "minimum": 0},
    "app_version": {"type": "string", "maxLength": 32},
    "pending": {"type": "integer", "minimum": 0},
}

BATCH_BODY = {
    "type": "object",
    "required": ["v", "kind", "node_id", "first_seq", "last_seq", "prev_hash", "node_clock", "cursor", "events"],
    "properties": {
        **_COMMON,
        "kind": {"type": "string", "enum": ["batch"]},
        "first_seq": {"type": "integer", "minimum": 1},
        "last_seq": {"type": "integer", "minimum": 1},
        "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "events": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Event"}},
    },
    "additionalProperties": False,
}

POLL_BODY = {
    "type": "object",
    "required": ["v", "kind", "node_id", "nonce", "node_clock", "cursor"],
    "properties": {
        **_COMMON,
        "kind": {"type": "string", "enum": ["poll", "hello"]},
        "nonce": {"type": "string", "maxLength": 40},
        "acked_seq": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}

ENVELOPE = {
    "type": "object",
    "required": ["body", "sig"],
    "properties": {
        "body": {"oneOf": [{"$ref": "#/components/schemas/BatchBody"}, {"$ref": "#/components/schemas/PollBody"}]},
        "sig": {"type": "string", "description": "base64 Ed25519 signature over canonical(body)"},
    },
    "additionalProperties": False,
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
        "out_seq": {"type": "integer", "description": "end of the hub's log for this village (below the node's "
                    "cursor only after the hub was restored from a backup: the node rewinds)"},
        "epoch": {"type": "string", "description": "the hub's incarnation: new after a restore or a failover, "
                  "when the node rebuilds its copy of the village's log (docs/protocol.md)"},
        "at_cursor": {"type": "object", "description": "digest of the hub's entry at the node's cursor",
                      "properties": {"cseq": {"type": "integer"}, "digest": {"type": "string"}}},
        "catalogue": {"type": "object"},
        "history": {"type": "array", "items": {"type": "object"}},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string", "enum": sorted(protocol.ERRORS)}, "message": {"type": "string"}},
        },
    },
}

# 32 bytes in base64: 43 symbols, the last carrying 4 bits, then one "=".
PUBKEY_PATTERN = "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"

SIGNED_RESPONSE = {
    "type": "object",
    "required": ["body", "sig"],
    "properties": {"body": RESPONSE_BODY, "sig": {"type": "string"}},
}


CHUNK_BODY = {
    "type": "object",
    "required": ["v", "kind", "node_id", "nonce", "node_clock", "sha256", "offset", "data"],
    "properties": {
        "v": _COMMON["v"],
        "node_id": _COMMON["node_id"],
        "node_clock": _COMMON["node_clock"],
        "kind": {"type": "string", "enum": ["attachment"]},
        "nonce": {"type": "string", "maxLength": 40},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "offset": {"type": "integer", "minimum": 0},
        "data": {"type": "string", "description": "base64 bytes from offset; empty asks for the hub's offset"},
    },
    "additionalProperties": False,
}

CHUNK_ENVELOPE = {
    "type": "object",
    "required": ["body", "sig"],
    "properties": {"body": CHUNK_BODY, "sig": ENVELOPE["properties"]["sig"]},
    "additionalProperties": False,
}

ATTACHMENT_STATUS_BODY = {
    "type": "object",
    "required": ["v", "kind", "node_id", "request_hash", "hub_time", "sha256", "offset", "size", "complete"],
    "properties": {
        "v": {"type": "integer"},
        "kind": {"type": "string", "enum": ["attachment_status"]},
        "node_id": {"type": "string"},
        "request_hash": {"type": "string"},
        "hub_time": {"type": "string"},
        "sha256": {"type": "string"},
        "offset": {"type": "integer", "minimum": 0, "description": "bytes the hub holds; send from here"},
        "size": {"type": "integer", "minimum": 0},
        "complete": {"type": "boolean", "description": "all bytes held and the SHA-256 verified"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string", "enum": sorted(set(protocol.ERRORS) | set(ATTACHMENT_ERRORS))},
                           "message": {"type": "string"}},
        },
    },
}


def _attachment_responses(*codes: int) -> dict[str, Any]:
    # Unreadable bodies are refused before the attachment handler, with the generic response body.
    schema = {"type": "object", "required": ["body", "sig"],
              "properties": {"body": {"anyOf": [ATTACHMENT_STATUS_BODY, RESPONSE_BODY]}, "sig": {"type": "string"}}}
    return {
        str(code): {
            "description": "signed status" if code == 200 else "signed refusal (body.error says why)",
            "content": {"application/json": {"schema": schema}},
        }
        for code in codes
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
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}},
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
                        "content": {"application/json": {"schema": CHUNK_ENVELOPE}},
                    },
                    "responses": _attachment_responses(200, 400, 403, 404, 413, 415, 422),
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
                                        "v": {"type": "integer", "enum": sorted(protocol.SUPPORTED_VERSIONS)},
                                        "code": {"type": "string", "maxLength": 64},
                                        "pubkey": {"type": "string", "pattern": PUBKEY_PATTERN,
                                                   "description": "raw Ed25519 public key, base64"},
                                        "box_pubkey": {"type": "string", "pattern": PUBKEY_PATTERN,
                                                       "description": "X25519 key for USB response bundles"},
                                        "app_version": {"type": "string", "maxLength": 32},
                                    },
                                    "additionalProperties": False,
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
        "components": {"schemas": {"Envelope": ENVELOPE, "BatchBody": BATCH_BODY, "PollBody": POLL_BODY, "Event": EVENT,
                                   **json_value_schemas(), "ResponseBody": RESPONSE_BODY}},
    }
