"""An audit entry's hash is the SHA-256 of the standard library's canonical JSON of its fields,
whichever encoder wrote it: a chain written before the faster encoder still verifies, and after."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import audit
from shared.msgid import N_
from tests.shared.test_messages import TEXT, json_values

AT = datetime(2026, 12, 1, 3, 4, 5, 678901)


def reference_hash(seq: int, at: datetime, actor: str, action: str, target: str, detail: Any, prev: str) -> str:
    """The hash as the chain has always defined it: json.dumps, sorted keys, compact, UTF-8."""
    fields = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "target": target,
        "detail": detail,
        "prev_hash": prev,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e16, 1e-7, 0.1, -0.0, 1e308, 5e-324])
with_floats = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT | FLOATS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(json_values, with_floats), TEXT, TEXT, st.integers(min_value=1, max_value=2**62))
def test_entry_hash_is_the_reference_hash(detail: Any, actor: str, target: str, seq: int) -> None:
    prev = "ab" * 32
    assert audit.entry_hash(seq, AT, actor, "case.duplicate_flagged", target, detail, prev) == reference_hash(
        seq, AT, actor, "case.duplicate_flagged", target, detail, prev
    )


def test_marked_text_and_floats_in_a_detail_hash_as_before() -> None:
    # A refusal marked with N_ is a str subclass; a float is written as json writes it (1e+16, not 1e16).
    for detail in ({"why": N_("%(n)s件", n=3)}, {"ratio": 1e16}, {"scores": [0.1, 2]}, {1: "x"}, ("a", 1)):
        assert audit.entry_hash(7, AT, "wang", "case.accept", "X", detail, "0" * 64) == reference_hash(
            7, AT, "wang", "case.accept", "X", detail, "0" * 64
        )


def test_a_batch_of_entries_is_chained_with_the_reference_hash(hub_app) -> None:
    from hub.db import database
    from hub.models import AuditEntry

    with database.connection_context():
        audit.record_many(
            [("node-1", "case.duplicate_flagged", f"CODE{i}", {"earlier": "E", "n": i}) for i in range(3)]
        )
        entries = list(AuditEntry.select().order_by(AuditEntry.seq))[-3:]
    for e in entries:
        assert e.hash == reference_hash(e.seq, e.at, e.actor, e.action, e.target, e.detail, e.prev_hash)


def test_a_batch_stores_each_detail_as_its_json_column_writes_it(hub_app) -> None:
    from hub.db import JSONField, database

    details: list[dict[str, Any]] = [
        {"earlier": "22E0000001", "item": "JF-01"},  # a duplicate flag: the quick way
        {"张": '\x00\u2028"\\', "n": 2**70, "ok": True, "none": None},
        {"why": N_("%(n)s件", n=3)},  # marked text, a float, a list: the column's own way
        {"ratio": 1e16, "scores": [0.1, 2]},
        {},
    ]
    with database.connection_context():
        audit.record_many([("node-1", "case.duplicate_flagged", f"CODE{i}", d) for i, d in enumerate(details)])
        stored = [text for (text,) in database.execute_sql("SELECT detail FROM auditentry ORDER BY seq")][-5:]
    assert stored == [JSONField().db_value(d) for d in details]
    assert audit.verify()[1] is None
