"""The sync API as OpenAPI 3.0 (served at /api/v1/openapi.json), generated from shared/messages.py.

Request and response bodies are the JSON Schema of the declared message structures, so
the document cannot drift from what the hub parses. Only free-form event data is written
out here: its bound is the parser's nesting limit, not a structure.
"""

from __future__ import annotations

from typing import Any

from shared import encoding, messages, protocol

from .attachments import ERRORS as ATTACHMENT_ERRORS

# Protocol JSON has no floats (shared.encoding refuses them) and is nested at most
# encoding.MAX_DEPTH deep, counted from the envelope. An event's data values sit at depth
# DATA_DEPTH (envelope > body > events > event > data > value), so free-form data is a
# chain of schemas, one per level, whose last level holds scalars only.
DATA_DEPTH = messages.EVENT_DATA_DEPTH
_SCALARS: list[dict[str, Any]] = [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]
REF = "#/components/schemas/{name}"


def _json_value_name(depth: int) -> str:
    return f"JsonValueAtDepth{depth}"


def json_value_schemas() -> dict[str, Any]:
    """Components for free-form event data, bounded exactly as the hub's parser bounds it."""
    out: dict[str, Any] = {}
    for depth in range(DATA_DEPTH, encoding.MAX_DEPTH + 1):
        options: list[dict[str, Any]] = list(_SCALARS)
        if depth < encoding.MAX_DEPTH:
            ref = {"$ref": REF.format(name=_json_value_name(depth + 1))}
            options += [{"type": "array", "items": ref}, {"type": "object", "additionalProperties": ref}]
        else:  # the deepest level: containers only when empty, since their contents would be too deep
            options += [{"type": "array", "maxItems": 0}, {"type": "object", "maxProperties": 0}]
        out[_json_value_name(depth)] = {"nullable": True, "anyOf": options}
    return out


def _openapi30(schema: Any) -> Any:
    """msgspec writes JSON Schema 2020-12; OpenAPI 3.0 says "nullable" where that says {"type": "null"}.

    3.0 on purpose: under 3.1 an integer may be written 1.0, which the protocol refuses (no floats).
    """
    if isinstance(schema, list):
        return [_openapi30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _openapi30(v) for k, v in schema.items()}
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        out["nullable"] = True
        if len(rest) == 1 and "$ref" not in rest[0]:
            del out["anyOf"]
            out.update(rest[0])
        else:
            out["anyOf"] = rest
    return out


def _components() -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema of each request and answer, and the components they refer to."""
    declared = {
        "sync": messages.SignedSync,
        "sync_answer": messages.SignedResponse,
        "chunk": messages.SignedChunk,
        "chunk_answer": messages.SignedAttachmentStatus,
        "enrol": messages.Enrol,
        "enrol_answer": messages.SignedEnrolment,
    }
    schemas, components = messages.schema_components(list(declared.values()), REF)
    codes = sorted(set(protocol.ERRORS) | set(ATTACHMENT_ERRORS))
    components["ErrorBody"]["properties"]["code"]["enum"] = codes
    for name in ("Batch", "Poll", "Hello", "AttachmentChunk", "EnrolStart", "EnrolConfirm"):
        # What a node may send: the versions this hub speaks (protocol.check_version refuses others).
        components[name]["properties"]["v"]["enum"] = sorted(protocol.SUPPORTED_VERSIONS)
    components = _openapi30(components)
    components.update(json_value_schemas())
    return dict(zip(declared, _openapi30(schemas))), components


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answers(ok: dict[str, Any], refusal: dict[str, Any], *codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": "signed answer" if code == 200 else "signed refusal (body.error says why)",
            "content": _content(ok if code == 200 else refusal),
        }
        for code in codes
    }


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    bodies, components = _components()
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Daiban hub sync API",
            "version": str(protocol.PROTOCOL_VERSION),
            "description": "Signed batches up, the village's status log down. See docs/protocol.md; "
            "every message is declared in shared/messages.py. No text in a message (a value or a key, "
            "event data included) may hold U+0000: PostgreSQL's text cannot store it, so the hub "
            "refuses the whole message with 400 bad_body naming the field (shared.protocol.refuse_nul).",
        },
        "paths": {
            "/api/v1/sync": {
                "post": {
                    "summary": "Send a batch, poll for updates, or ask where to resume (hello)",
                    "requestBody": {"required": True, "content": _content(bodies["sync"])},
                    "responses": _answers(bodies["sync_answer"], bodies["sync_answer"], 200, 400, 403, 409, 413, 415),
                }
            },
            "/api/v1/attachments": {
                "post": {
                    "summary": "Resumable attachment upload: a signed chunk from `offset`, or an offset query "
                    "(empty data); the answer says how many bytes the hub holds",
                    "requestBody": {"required": True, "content": _content(bodies["chunk"])},
                    # Unreadable bodies are refused before the attachment handler, with a sync-style answer.
                    "responses": _answers(
                        bodies["chunk_answer"], bodies["chunk_answer"], 200, 400, 403, 404, 413, 415, 422
                    ),
                }
            },
            "/api/v1/enroll": {
                "post": {
                    "summary": "Enrolment v2: two rounds of SPAKE2 on the one-time code (which is never sent); "
                    "see docs/protocol.md",
                    "requestBody": {"required": True, "content": _content(bodies["enrol"])},
                    # 429: too many failed enrolments from one address (hub/ratelimit.py), with Retry-After.
                    "responses": _answers(bodies["enrol_answer"], bodies["sync_answer"], 200, 400, 403, 413, 415, 429),
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": _content({"type": "object", "properties": {"status": {"type": "string"}}}),
                        }
                    },
                }
            },
        },
        "components": {"schemas": components},
    }
