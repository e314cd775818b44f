"""CLI wiring as flaskr does it: `--dir` reaches the app factory as an argument (the process
environment is left alone), and each command gets its app from the one `with_app` decorator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.cli import build


@pytest.mark.parametrize(
    ("kind", "key_file", "env"), [("hub", "hub_key.pem", "DAIBAN_HUB_DIR"), ("node", "node_key.pem", "DAIBAN_NODE_DIR")]
)
def test_dir_reaches_the_factory_not_the_environment(tmp_path: Path, kind: str, key_file: str, env: str) -> None:
    os.environ.pop(env, None)
    data = tmp_path / "data"
    result = CliRunner().invoke(build(), [kind, "--dir", str(data), "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (data / key_file).exists()
    assert str(data) in result.output
    assert env not in os.environ


@pytest.mark.parametrize(
    ("kind", "key_file", "env"), [("hub", "hub_key.pem", "DAIBAN_HUB_DIR"), ("node", "node_key.pem", "DAIBAN_NODE_DIR")]
)
def test_environment_still_names_the_directory(tmp_path: Path, kind: str, key_file: str, env: str) -> None:
    data = tmp_path / "from-env"
    result = CliRunner().invoke(build(), [kind, "init"], env={env: str(data)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (data / key_file).exists()


def test_command_errors_reach_the_user_in_chinese(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(build(), ["hub", "--dir", str(tmp_path), "init"], catch_exceptions=False)
    result = runner.invoke(build(), ["hub", "--dir", str(tmp_path), "revoke", "--village", "无此村"])
    assert result.exit_code == 1
    assert "没有找到行政村：无此村" in result.output
