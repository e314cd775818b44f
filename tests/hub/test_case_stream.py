"""A batch's new cases go into a COPY held open while the batch is applied (PostgreSQL), stored as before.

hub/ingest.py's BatchWriter writes each chunk of new cases into one COPY as they are made, and
hub/db.py ends that COPY before its connection runs anything else: a handler reading cases, the
routing's look-ups of a window's staff, the rest of the batch's rows, a ROLLBACK. Chunks of 2 here,
so a batch of a few events streams. On SQLite nothing streams and the same assertions hold.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from hub import cases, ingest
from hub.db import database, is_postgres
from hub.models import Assignment, Case, NodeEvent
from hub.staff import create_user
from tests.hub.test_ingest_mixed_batch import _required
from tests.hub.test_sync_api import captured
from tests.nodesim import NodeSim


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.BatchWriter, "STREAM_CHUNK", 2)


def _steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """In order: each event applied ("apply") and each COPY opened ("COPY <table>")."""
    steps: list[str] = []
    apply_event, copy = ingest.apply_event, psycopg.Cursor.copy

    def applied(*args: Any, **kwargs: Any) -> Any:
        steps.append("apply")
        return apply_event(*args, **kwargs)

    def copying(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        steps.append(" ".join(str(statement).split()[:2]))
        return copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(ingest, "apply_event", applied)
    monkeypatch.setattr(psycopg.Cursor, "copy", copying)
    return steps


def test_new_cases_are_copied_while_the_batch_is_applied_and_stored_whole(
    sim: NodeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = _steps(monkeypatch)
    evs = [captured(sim, item) for item in ("JF-01", "DB-01", "FP-01", "JF-02", "JF-01")]
    resp = sim.send(sim.events(*evs))
    assert resp["ack"]["accepted"] == 5
    assert sorted(c.request_id for c in Case.select()) == sorted(ev[1] for ev in evs)
    if is_postgres():
        # One COPY of cases, opened at the second capture, before the last three were applied.
        assert steps[:3] == ["apply", "apply", 'COPY "case"']
        assert steps.count('COPY "case"') == 1
    assert database.obj.in_transaction() is False


def test_a_handler_reading_cases_mid_batch_sees_the_cases_before_it(
    sim: NodeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = _steps(monkeypatch)
    waiting = captured(sim, "DB-01", missing=_required("DB-01")[:1])
    evs = [captured(sim, "JF-01"), captured(sim, "JF-01"), waiting, captured(sim, "FP-01")]
    supplement = ("request.supplemented", waiting[1], {"materials": _required("DB-01")[:1]})
    resp = sim.send(sim.events(*evs, supplement, captured(sim, "JF-01"), captured(sim, "JF-02")))
    assert resp["ack"]["results"] == []
    assert resp["ack"]["accepted"] == 7
    assert Case.get_by_id(waiting[1]).state == "received"  # the supplement found it, complete now
    assert Case.select().count() == 6
    assert NodeEvent.select().count() == 7
    if is_postgres():
        assert steps.count('COPY "case"') == 2  # ended for the supplement, opened again after it


def test_routing_s_look_ups_mid_copy_end_it_first(sim: NodeSim, monkeypatch: pytest.MonkeyPatch) -> None:
    # The routing reads a window's staff at that window's first case: here after a chunk went into the COPY.
    create_user("an", "AN", "secret-pass", "staff", ["W09"])
    create_user("chen", "CHEN", "secret-pass", "staff", ["W05"])
    evs = [captured(sim, item) for item in ("JF-01", "JF-02", "JF-03", "DB-01", "JF-01")]
    resp = sim.send(sim.events(*evs))
    assert resp["ack"]["accepted"] == 5
    got = [Case.get_by_id(ev[1]).assignee for ev in evs]
    assert got == ["an", "an", "an", "chen", "an"]
    assert Assignment.select().count() == 5


def test_a_batch_failing_mid_copy_leaves_nothing_and_the_next_is_stored(
    sim: NodeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    status_body, calls = cases.status_body, []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:  # after two chunks of cases went into the COPY
            raise RuntimeError("boom")
        return status_body(*args, **kwargs)

    monkeypatch.setattr(cases, "status_body", failing)
    evs = [captured(sim, "JF-01") for _ in range(5)]
    body, raw = sim.batch(sim.events(*evs))
    with pytest.raises(RuntimeError, match="boom"):
        sim.post(raw)
    assert Case.select().count() == 0
    assert NodeEvent.select().count() == 0
    monkeypatch.setattr(cases, "status_body", status_body)
    resp = sim.send(sim.events(*evs))
    assert resp["ack"]["accepted"] == 5
    assert Case.select().count() == 5
