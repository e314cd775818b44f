"""Staff of one window get the same 404 for another window's case as for a code that does not exist."""

from __future__ import annotations

import re

import pytest

from hub.enrolment import issue_code
from shared.receipt_codes import new_code
from tests.hub.console_support import Desk, new_case, snapshot
from tests.nodesim import NodeSim


def _same(resp_a, resp_b) -> None:
    def scrub(html: str) -> str:
        # the language switch links back to the page asked for: it echoes the requester's own URL
        html = re.sub(r'next=[^"]*"', 'next="', html)
        return re.sub(r'name="csrf_token" value="[^"]+"', "", html)

    assert resp_a.status_code == resp_b.status_code == 404
    assert scrub(resp_a.get_data(as_text=True)) == scrub(resp_b.get_data(as_text=True))


@pytest.fixture
def setting(hub_app):
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "JF-01", name="孙八")  # 国土与城建 window
    owner = Desk(hub_app, "wang", "王芳", windows=["W09"])
    owner.act(code, "accept")
    forester = Desk(hub_app, "lin", "林业员", windows=["W14"])
    return code, new_code(sim.prefix), forester, owner


def test_the_reported_difference_is_gone(setting) -> None:
    code, missing, forester, _ = setting
    assert forester.get(f"/console/case/{code}").status_code == forester.get(f"/console/case/{missing}").status_code


@pytest.mark.parametrize(
    "path", ["/console/case/{code}", "/console/case/{code}/feedback", "/console/case/{code}/paper/{paper}"]
)
def test_pages_answer_404_for_another_windows_case(setting, path: str) -> None:
    code, missing, forester, owner = setting
    page = owner.get(f"/console/case/{code}").get_data(as_text=True)
    paper = re.search(rf"/console/case/{code}/paper/(\d+)", page).group(1)  # type: ignore[union-attr]
    assert owner.get(path.format(code=code, paper=paper)).status_code == 200, "the page exists for its window"
    existing = forester.get(path.format(code=code, paper=paper))
    path = path.format(code=missing, paper=paper)
    _same(existing, forester.get(path))
    assert "孙" not in existing.get_data(as_text=True)


@pytest.mark.parametrize("action", ["accept", "approve", "no-such-action", "immediate"])
def test_actions_answer_404_and_change_nothing(setting, action: str) -> None:
    code, missing, forester, _ = setting
    before = snapshot()
    existing = forester.act(code, action, reason="x", legal_basis="y")
    _same(existing, forester.act(missing, action, reason="x", legal_basis="y"))
    assert "孙" not in existing.get_data(as_text=True)
    assert snapshot() == before
