"""Fixtures for hub tests: a village node enrolled with the test's hub."""

from __future__ import annotations

import pytest

from hub.enrolment import issue_code
from tests.nodesim import NodeSim


@pytest.fixture
def sim(hub_app) -> NodeSim:
    """A scripted node of 桃源村, enrolled with the hub, on a test client of its own (a node is not the browser)."""
    return NodeSim(hub_app.test_client(), issue_code("桃源村"))
