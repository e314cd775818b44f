"""The CouchDB-style peer in `make bench`: the end-to-end budget follows the peer of the sitting.

Offline: nothing here starts node or asks the npm registry.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from bench import peer


def e2e_row(table: str) -> str:
    return next(line for line in table.splitlines() if line.startswith("| E2E sync 10k queued"))


def test_measured_peer_sets_the_budget(run_all: ModuleType) -> None:
    results = {"peer": {"loopback": {"docs_per_s": 3000}}, "sync": {"e2e_loopback_sqlite": {"requests_per_s": 8000}}}
    budget, why = run_all.e2e_budget(results)
    assert budget == 9000
    assert "measured in this sitting" in why
    row = e2e_row(run_all.table(results))
    assert "≥ 9,000" in row
    assert "MISSED" in row
    results["sync"]["e2e_loopback_sqlite"]["requests_per_s"] = 9500
    assert e2e_row(run_all.table(results)).endswith("| ok |")


def test_without_the_peer_the_issues_figure_stands(run_all: ModuleType) -> None:
    results = {"sync": {"e2e_loopback_sqlite": {"requests_per_s": 7000}}}
    budget, why = run_all.e2e_budget(results)
    assert budget == run_all.E2E_BUDGET == 3 * 2281
    assert "the issue's figure" in why
    assert "did not run" in why
    assert "≥ 6,843" in e2e_row(run_all.table(results))


def test_a_skipped_peer_falls_back_and_says_why(run_all: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer.shutil, "which", lambda name: None)
    results = {"peer": peer.run(), "sync": {"e2e_loopback_sqlite": {"requests_per_s": 7000}}}
    assert results["peer"] == {"skipped": "node is not installed"}
    budget, why = run_all.e2e_budget(results)
    assert budget == run_all.E2E_BUDGET
    assert "node is not installed" in why
    peer_row = next(line for line in run_all.table(results).splitlines() if "CouchDB-style peer" in line)
    assert "—" in peer_row


def test_peer_documents_are_the_seeded_requests() -> None:
    first, again = peer.documents(30, seed=10), peer.documents(30, seed=10)
    assert [d["receipt_code"] for d in first] == [d["receipt_code"] for d in again]
    assert len({d["_id"] for d in first}) == 30
    # CouchDB reserves top-level names that start with "_": only the id may.
    assert all(k == "_id" or not k.startswith("_") for d in first for k in d)
    assert all(d["applicant"]["name"] and d["item_code"] for d in first)
