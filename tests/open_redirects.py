"""Targets for a `next=` that a browser would take off the site: each must be refused.

One list for the rule itself (tests/shared/test_redirects.py) and for every page that redirects
by it, on the hub and the node (tests/hub/test_open_redirect.py, tests/node/test_open_redirect.py).
"""

from __future__ import annotations

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
    "https://evil.example/",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example",
    "@evil.example",
    "//evil.example/%2F..",
    "\x0c//evil.example",
]
