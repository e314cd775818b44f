"""The hub app factory: test config, environment prefix."""

from __future__ import annotations

from hub import create_app


def test_factory_uses_test_config(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"})
    assert app.testing
    assert (tmp_path / "hub_key.pem").exists()


def test_factory_reads_prefixed_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DAIBAN_HUB_DIR", str(tmp_path))
    monkeypatch.setenv("DAIBAN_HUB_SOME_SETTING", "42")
    app = create_app()
    assert app.config["DATA_DIR"] == str(tmp_path)
    assert app.config["SOME_SETTING"] == 42
    assert app.config["SECRET_KEY"]
