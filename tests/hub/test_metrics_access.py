"""/metrics names villages: only with the bearer token, or from this machine when no token is set."""

from __future__ import annotations

from typing import Any

from hub.enrolment import issue_code
from tests.nodesim import NodeSim


def _get(app: Any, addr: str, **headers: str) -> Any:
    return app.test_client().get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": addr})


def test_without_a_token_only_this_machine_reads_metrics(hub_app) -> None:
    hub_app.config.pop("METRICS_TOKEN", None)
    NodeSim(hub_app.test_client(), issue_code("桃源村"))
    for addr in ("10.0.0.5", "203.0.113.9", "192.168.1.20", "::ffff:10.0.0.5"):
        resp = _get(hub_app, addr)
        assert resp.status_code == 403
        assert "桃源村" not in resp.get_data(as_text=True)
        assert "METRICS_TOKEN" in resp.get_data(as_text=True)
    # A proxy on this machine forwarding someone else's request is not "this machine".
    assert _get(hub_app, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert _get(hub_app, "127.0.0.1", **{"X-Forwarded-For": "not an address"}).status_code == 403
    for addr in ("127.0.0.1", "::1"):
        resp = _get(hub_app, addr)
        assert resp.status_code == 200
        assert 'village="桃源村"' in resp.get_data(as_text=True)


def test_with_a_token_every_client_needs_it(hub_app) -> None:
    hub_app.config["METRICS_TOKEN"] = "s3cret-token"
    for addr in ("127.0.0.1", "10.0.0.5"):
        assert _get(hub_app, addr).status_code == 401
        assert _get(hub_app, addr, Authorization="Bearer wrong").status_code == 401
        resp = _get(hub_app, addr, Authorization="Bearer s3cret-token")
        assert resp.status_code == 200
        assert "daiban_open_cases" in resp.get_data(as_text=True)
