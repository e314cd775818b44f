"""The node app factory and the `daiban` command."""

from __future__ import annotations

from click.testing import CliRunner

from node import create_app
from shared.cli import build


def test_factory_creates_key_and_database(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    assert app.testing
    assert (tmp_path / "node_key.pem").exists()
    assert (tmp_path / "node.sqlite3").exists()
    assert app.test_client().get("/healthz").get_json() == {
        "status": "ok",
        "service": "node",
        "enrolled": False,
        "storage": "ok",
    }


def test_daiban_command_has_hub_and_node_groups() -> None:
    result = CliRunner().invoke(build(), ["--help"])
    assert result.exit_code == 0
    assert "hub" in result.output
    assert "node" in result.output


def test_api_refuses_without_token(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    assert app.test_client().post("/api/v1/requests", json={}).status_code == 401
