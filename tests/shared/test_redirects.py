"""safe_next: known open-redirect bypasses are refused, plain paths pass."""

from __future__ import annotations

import pytest

from shared.redirects import safe_next
from tests.open_redirects import BYPASSES


@pytest.mark.parametrize("target", [*BYPASSES, "", None])
def test_bypasses_refused(target: str | None) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/console/queue", "/requests?page=2", "/lang/en?next=/x", "/a/b//c"])
def test_paths_pass(target: str) -> None:
    assert safe_next(target) == target
