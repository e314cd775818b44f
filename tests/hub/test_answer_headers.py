"""What a node's answer carries besides its body (docs/performance.md, "Headers: what nothing reads"):
the headers that mean something for a JSON document, no `Vary: Cookie` and no session cookie
(the API is signed, not logged in), and a body compressed whenever that is fewer bytes, its
headers counted, the hello's answer included. Pages keep the full page headers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.enrolment import issue_code
from hub.staff import create_user
from shared import encoding, protocol
from shared.http_headers import JSON_HEADERS, SECURITY_HEADERS
from tests.hub.console_support import PASSWORD, csrf_of
from tests.nodesim import NodeSim

pytestmark = pytest.mark.parametrize("hub_db_url", ["sqlite"], indirect=True)


def hello(sim: NodeSim, accept: str) -> tuple[Any, dict[str, Any]]:
    raw = protocol.seal(sim.key, protocol.poll_body(sim.node_id, 0, kind="hello", catalogue_version=1, app_version="t"))
    resp = sim.client.post(
        "/api/v1/sync", data=raw, content_type="application/json", headers={"Accept-Encoding": accept}
    )
    assert resp.status_code == 200
    data = resp.data
    if resp.headers.get("Content-Encoding") == "zstd":
        data = encoding.decompress_zstd(data, protocol.MAX_INFLATED_BYTES)
    elif resp.headers.get("Content-Encoding") == "deflate":
        data = encoding.decompress(data, protocol.MAX_INFLATED_BYTES)
    env = json.loads(data)
    assert protocol.verify_body(sim.hub_pub, env["body"], env["sig"])
    return resp, env["body"]


def test_an_answer_to_a_node_carries_the_json_headers_and_no_cookie_or_vary_cookie(hub_client) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    # A browser's session cookie on the same host must not make the API read or re-send it.
    create_user("li", "李", PASSWORD, "staff", ["W09"])
    token = csrf_of(hub_client.get("/login").get_data(as_text=True))
    assert (
        hub_client.post("/login", data={"username": "li", "password": PASSWORD, "csrf_token": token}).status_code == 302
    )
    resp, body = hello(sim, "zstd, deflate")
    assert body["kind"] == "response"
    for name, value in JSON_HEADERS.items():
        assert resp.headers[name] == value
    assert "X-Frame-Options" not in resp.headers
    assert "Cookie" not in resp.vary
    assert "Set-Cookie" not in resp.headers
    assert resp.headers["Accept-Encoding"] == "zstd, deflate"  # what the node reads: kept


def test_pages_keep_the_page_headers(hub_client) -> None:
    resp = hub_client.get("/login")
    assert resp.mimetype == "text/html"
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers[name] == value


@pytest.mark.parametrize(("accept", "coding"), [("zstd, deflate", "zstd"), ("gzip, deflate", "deflate"), ("", None)])
def test_the_hellos_answer_is_compressed_when_that_is_fewer_bytes(hub_client, accept: str, coding: str | None) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    resp, body = hello(sim, accept)
    assert resp.headers.get("Content-Encoding") == coding
    assert body["last_hash"] == "0" * 64
    plain = len(protocol.seal(sim.key, body))  # about the plain answer's size (same fields, another key)
    if coding:
        assert len(resp.data) < plain - 60
        assert "Accept-Encoding" in resp.vary
