"""What the bench tests share."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def run_all() -> ModuleType:
    """bench.run_all, without keeping the sys.path change it makes for being run as a script."""
    saved = list(sys.path)
    try:
        return importlib.import_module("bench.run_all")
    finally:
        sys.path[:] = saved
