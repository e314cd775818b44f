"""The OpenAPI document bounds free-form event data exactly as the hub's parser does."""

from __future__ import annotations

from jsonschema import Draft7Validator

from hub.openapi import DATA_DEPTH, spec
from shared import encoding


def nest(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def test_event_data_depth_in_the_schema_matches_the_parser() -> None:
    doc = spec()
    validator = Draft7Validator(
        {"$ref": f"#/components/schemas/JsonValueAtDepth{DATA_DEPTH}", "components": doc["components"]}
    )
    for levels in range(0, encoding.MAX_DEPTH):
        envelope = {"body": {"events": [{"data": {"x": nest(levels)}}]}, "sig": ""}
        try:
            encoding.parse(encoding.canonical(envelope))
            parser_accepts = True
        except encoding.EncodingError:
            parser_accepts = False
        assert validator.is_valid(nest(levels)) == parser_accepts, levels
    assert validator.is_valid(nest(encoding.MAX_DEPTH - DATA_DEPTH))
    assert not validator.is_valid(nest(encoding.MAX_DEPTH - DATA_DEPTH + 1))
