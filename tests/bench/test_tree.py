"""`--tree`: every bench script that measures another checkout takes it the same way (bench.tree)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from bench import tree
from tests.support import ROOT


def test_tree_goes_first_on_the_path_and_the_other_options_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", ["/here", "/lib"])
    monkeypatch.setattr(sys, "argv", ["x", "--rounds", "2", "--tree", "/old/checkout"])
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = tree.parse_args(ap)
    assert (args.rounds, args.tree) == (2, "/old/checkout")
    assert sys.path == ["/old/checkout", "/here", "/lib"]


def test_without_tree_the_path_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", ["/here", "/lib"])
    monkeypatch.setattr(sys, "argv", ["x"])
    assert tree.parse_args(argparse.ArgumentParser()).tree is None
    assert sys.path == ["/here", "/lib"]


@pytest.mark.parametrize("script", ["capture_checks", "envelope_cost", "pg_ingest", "prepare_batch", "profile_ingest"])
def test_each_script_takes_tree(script: str) -> None:
    out = subprocess.run(
        [sys.executable, f"bench/{script}.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "--tree TREE" in out.stdout
