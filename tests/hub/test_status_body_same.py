"""status_body fills in its extras in place (#13): the body is the one it built before, key order too."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub import cases
from shared.catalogue import Catalogue

CATALOGUE = Catalogue.default()


def status_body_before(case: Any, catalogue: Catalogue, **extra: Any) -> dict[str, Any]:
    """The body as the commit before built it: every extra not None, by dict.update."""
    body = cases.status_body(case, catalogue)
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["action", "note", "complete", "state", "missing", "reason", "duplicate_of"]),
        st.one_of(st.none(), st.booleans(), st.text(max_size=5)),
    ),
    st.sampled_from(["received", "needs_materials", "approved"]),
    st.one_of(st.none(), st.just("AB2345678")),
    st.lists(st.sampled_from(["M-ID", "M-HUKOU", "M-UNKNOWN"]), max_size=3),
)
def test_status_body_is_built_as_before(extra: dict[str, Any], state: str, duplicate: Any, missing: list[str]) -> None:
    case = SimpleNamespace(
        receipt_code="AB2345678",
        state=state,
        window="W01",
        deadline=date(2027, 1, 11) if state == "received" else None,
        paused_since=None,
        item_code="DB-01",
        materials_missing=missing,
        assignee="wang",
        source="village",
        received_by=None,
        clerk="李文书",
        duplicate_of=duplicate,
    )
    new, old = cases.status_body(case, CATALOGUE, **extra), status_body_before(case, CATALOGUE, **extra)  # type: ignore[arg-type]
    assert list(new.items()) == list(old.items())
