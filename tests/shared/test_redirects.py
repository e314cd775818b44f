"""safe_next: known open-redirect bypasses are refused, plain paths pass."""

from __future__ import annotations

import pytest

from shared.redirects import safe_next

BYPASSES = [
    "//evil.example",
    "///evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example",
    "@evil.example",
    "//evil.example/%2F..",
    "/ /\t/evil.example"[2:],
    "\x0c//evil.example",
    "",
    None,
]


@pytest.mark.parametrize("target", BYPASSES)
def test_bypasses_refused(target: str | None) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/console/queue", "/requests?page=2", "/lang/en?next=/x", "/a/b//c"])
def test_paths_pass(target: str) -> None:
    assert safe_next(target) == target
