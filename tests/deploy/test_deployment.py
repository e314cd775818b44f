"""In-process checks of the production wiring: ProxyFix, /metrics token and format, JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from flask import request

from shared import jsonlog


def _app(tmp_path: Path, **config):
    from hub import create_app
    from hub.db import database
    from hub.schema import migrate

    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "hub"),
            "SECRET_KEY": "t",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
            **config,
        }
    )
    with database.connection_context():
        migrate()
    return app


def test_proxy_fix_only_when_configured(tmp_path: Path) -> None:
    headers = {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https"}
    for setting, expected in ((1, ("10.1.2.3", "https")), (0, ("127.0.0.1", "http"))):
        app = _app(tmp_path / str(setting), PROXY_FIX=setting)
        app.add_url_rule("/_who", "who", lambda: f"{request.remote_addr} {request.scheme}")
        assert app.test_client().get("/_who", headers=headers).text == " ".join(expected)


def test_metrics_counts_syncs_and_honours_token(tmp_path: Path) -> None:
    app = _app(tmp_path, METRICS_TOKEN="s3cret")
    client = app.test_client()
    client.post("/api/v1/sync", data=b"{not json", content_type="application/json")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    resp = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    lines = resp.text.splitlines()
    assert 'daiban_sync_requests_total{status="400"} 1.0' in lines
    assert 'daiban_ingest_latency_seconds_bucket{le="+Inf"} 1.0' in lines
    assert "daiban_ingest_latency_seconds_count 1.0" in lines
    for line in lines:
        assert line.startswith("#") or line.startswith("daiban_"), line


def test_json_log_lines(tmp_path: Path) -> None:
    jsonlog.configure("json")
    logger = logging.getLogger("daiban.test")
    handler = next(h for h in logging.getLogger("daiban").handlers if getattr(h, "_daiban", False))
    buf = io.StringIO()
    handler.setStream(buf)  # type: ignore[attr-defined]
    logger.warning("同步失败 %s", "超时", extra={"node": "桃源村"})
    record = json.loads(buf.getvalue().strip())
    assert record["msg"] == "同步失败 超时"
    assert record["level"] == "warning"
    assert record["node"] == "桃源村"
    jsonlog.configure("text")
