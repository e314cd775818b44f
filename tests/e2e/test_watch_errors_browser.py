"""support.watch_errors, which the browser tests rely on to fail on a broken page, notes what it should."""

from __future__ import annotations

from typing import Any

from tests import support

SITE = "http://daiban.test"
PAGE = (
    '<link rel="stylesheet" href="/missing.css"><img src="/refused.png"><img src="/favicon.ico">'
    '<script>console.error("boom")</script>'
)
STATUS = {"/page": 200, "/missing.css": 404, "/refused.png": 422, "/favicon.ico": 404}


def test_failed_responses_and_console_errors_are_noted_but_not_the_expected() -> None:
    def serve(route: Any) -> None:
        path = route.request.url.removeprefix(SITE)
        route.fulfill(status=STATUS[path], content_type="text/html", body=PAGE if path == "/page" else "")

    with support.chromium() as browser:
        errors: list[str] = []
        page = support.watch_errors(browser.new_page(), errors, lambda r: r.url.endswith("/refused.png"))
        page.route(f"{SITE}/**", serve)
        page.goto(f"{SITE}/page")
        page.wait_for_load_state("load")
        # The 404 once (not again as its console line), the script's error with where it happened.
        assert sorted(errors) == sorted([f"404 {SITE}/missing.css", f"boom {SITE}/page"]), errors
