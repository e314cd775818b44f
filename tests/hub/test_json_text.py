"""The text of a JSON column has one writer, hub/db.json_text (JSONField.db_value, the audit's
details): the standard library's JSON with sorted keys, written by json's own C encoder built once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import db
from hub.db import JSONField, json_text
from shared.msgid import N_
from tests.hub.test_audit_hash import with_floats
from tests.shared.test_messages import INTS, TEXT, json_values

# Text with lone surrogates, which json writes as they are (no database stores them, but the text is json's).
SURROGATES = st.text(st.one_of(st.characters(categories=["Cs"]), st.characters()), min_size=1, max_size=6)
SCALARS = st.none() | st.booleans() | INTS | TEXT | SURROGATES | st.floats()  # NaN and infinities too
# A flat dict (an audit entry's duplicate flag: text keys, plain values), and nested ones.
FLAT = st.dictionaries(TEXT | SURROGATES, SCALARS, max_size=5)
NESTED = st.recursive(
    SCALARS, lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4)
)


def standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(FLAT, NESTED, json_values, with_floats))
def test_a_json_column_writes_the_standard_librarys_text(value: Any) -> None:
    assert json_text(value) == standard(value)
    assert JSONField().db_value(value) == (None if value is None else standard(value))  # None: SQL's NULL


EDGES: tuple[Any, ...] = (
    {"earlier": "22E0000001", "item": "JF-01"},
    {"张": '\x00\u2028"\\/\x7f\ufeff', "n": 2**70, "m": -(2**100), "ok": True, "no": False, "none": None},
    {"lone": "\ud800", "\udfff": 1},
    {},
    [],
    {"why": N_("%(n)s件", n=3)},  # marked text: a str subclass, written as its text
    {"ratio": 1e16, "x": 0.1, "nan": float("nan"), "inf": float("-inf"), "tiny": 5e-324},
    {2: "x", 10: "y"},  # keys json turns into text (sort_keys sorts them as given: 2 before 10)
    [{"b": [1, {"d": None, "c": "é"}], "a": 2}],
    "text",
    7,
)


@pytest.mark.parametrize("value", EDGES, ids=range(len(EDGES)))
def test_edge_values_are_written_as_the_standard_library_writes_them(value: Any) -> None:
    assert json_text(value) == standard(value)


def test_without_json_s_c_encoder_the_text_is_the_same(monkeypatch) -> None:
    monkeypatch.setattr(db, "_JSON_CHUNKS", None)
    for value in EDGES:
        assert json_text(value) == standard(value)


def test_what_json_cannot_write_is_refused_as_json_refuses_it() -> None:
    for value in ({"when": object()}, {"set": {1}}, {(1, 2): "tuple key"}):
        with pytest.raises(TypeError):
            json_text(value)
        with pytest.raises(TypeError):
            standard(value)


def test_a_c_encoder_that_differs_or_fails_is_not_used(monkeypatch) -> None:
    """c_make_encoder is private to json: one that takes other arguments or writes another text is refused."""

    def wrong_arguments(*args):
        raise TypeError("c_make_encoder() takes 10 arguments")

    monkeypatch.setattr(json.encoder, "c_make_encoder", wrong_arguments)
    assert db._json_chunks() is None
    monkeypatch.setattr(json.encoder, "c_make_encoder", lambda *args: lambda value, level: ["{}"])
    assert db._json_chunks() is None
    monkeypatch.undo()
    assert db._json_chunks() is not None
