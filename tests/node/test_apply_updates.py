"""Applying the hub's updates to requests: plain rows and one UPDATE per set of columns.

node/apply.apply_updates no longer builds a model instance per request: it reads each request's
window, collects what each update sets, and writes those columns. The stored result must be
what the former model-by-model way stored, update after update, within one answer too.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from node import apply, meta
from node.capture import capture_request
from node.db import database
from node.models import HubUpdate, Request
from shared import states
from tests.factories import capture

COLUMNS = [n for n in apply._STATUS_FIELDS if n != "updated_at"]


def _old_update(req: Request, up: dict[str, Any]) -> None:
    """The former node.apply._update_request, field by field on a model instance."""
    if up.get("type") == "case.status" and up.get("state") in states.LABELS:
        req.state = up["state"]
        req.window = up.get("window") or req.window
        req.window_name = up.get("window_name") or req.window_name
        req.deadline = up.get("deadline")
        req.hub_missing = up.get("missing") or []
        req.hub_missing_names = up.get("missing_names") or []
        req.reason = up.get("reason")
        req.legal_basis = up.get("legal_basis")
        req.note = up.get("note")
        req.status_at = up.get("at")
        if up.get("action") in apply.ATTENTION_ACTIONS or up.get("duplicate_of"):
            req.needs_attention = True
    elif up.get("type") == "event.refused":
        if up.get("state") == states.INVALID:
            req.state = states.INVALID
        req.reason = up.get("message")
        req.needs_attention = True


def _stored(request_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    return {
        r.request_id: tuple(getattr(r, n) for n in COLUMNS)
        for r in Request.select().where(Request.request_id.in_(request_ids))
    }


def test_updates_store_what_the_model_by_model_way_stored(node_app) -> None:
    rng = random.Random(3)
    with database.atomic():
        ids = [capture_request(capture("JF-01", rng=rng), "李文书").request_id for _ in range(5)]
        Request.update(window="W9", window_name="老窗口").where(Request.request_id == ids[4]).execute()
    at = "2026-11-30T12:00:00.000000Z"
    status = {"type": "case.status", "at": at}
    updates = [
        # accepted at a window, then moved on without naming one: the window stays
        {
            **status,
            "request_id": ids[0],
            "state": "accepted",
            "window": "W1",
            "window_name": "民政",
            "action": "accept",
        },
        {
            **status,
            "request_id": ids[0],
            "state": "needs_materials",
            "action": "ask_materials",
            "missing": ["M-1"],
            "missing_names": ["户口簿"],
        },
        {**status, "request_id": ids[1], "state": "received", "deadline": "2026-12-10", "note": "备注"},
        {"type": "event.refused", "at": at, "request_id": ids[2], "state": states.INVALID, "message": "退回"},
        {"type": "event.refused", "at": at, "request_id": ids[3], "message": "只说原因"},
        {**status, "request_id": ids[3], "state": "no_such_state"},
        {**status, "request_id": ids[4], "state": "received", "duplicate_of": "22ABCDEFGH"},
        {**status, "request_id": "not-here", "state": "received"},
    ]
    updates = [{**up, "cseq": i + 1} for i, up in enumerate(updates)]
    with database.atomic():
        expected = {r.request_id: r for r in Request.select().where(Request.request_id.in_(ids))}
        for up in updates:
            if up["request_id"] in expected:
                _old_update(expected[up["request_id"]], up)
    with database.atomic():
        before = {r.request_id: r.updated_at for r in Request.select()}
        assert apply.apply_updates(updates) == (len(updates), 0)
    assert _stored(ids) == {rid: tuple(getattr(r, n) for n in COLUMNS) for rid, r in expected.items()}
    # Every request an update named has a new updated_at; the row types are the model's.
    for r in Request.select().where(Request.request_id.in_(ids)):
        assert r.updated_at > before[r.request_id]
        assert isinstance(r.needs_attention, bool)
        assert isinstance(r.hub_missing, list)
    raw = database.execute_sql(
        'SELECT "hub_missing", "needs_attention" FROM "request" WHERE "request_id" = ?', (ids[0],)
    )
    assert raw.fetchone() == ('["M-1"]', 1)
    assert [u.cseq for u in HubUpdate.select().order_by(HubUpdate.cseq)] == list(range(1, len(updates) + 1))
    assert int(meta.get("cursor")) == len(updates)


def test_the_stored_texts_are_those_peewee_writes(node_app) -> None:
    """Empty lists as the JSON "[]", the applied time as str() of a date-time, in both tables."""
    rng = random.Random(4)
    with database.atomic():
        rid = capture_request(capture("JF-01", rng=rng), "李文书").request_id
    up = {"cseq": 1, "type": "case.status", "request_id": rid, "state": "received", "missing": [], "at": "x"}
    with database.atomic():
        assert apply.apply_updates([up]) == (1, 0)
    missing, names, updated_at = database.execute_sql(
        'SELECT "hub_missing", "hub_missing_names", "updated_at" FROM "request" WHERE "request_id" = ?', (rid,)
    ).fetchone()
    (applied_at,) = database.execute_sql('SELECT "applied_at" FROM "hubupdate" WHERE "cseq" = 1').fetchone()
    assert (missing, names) == ("[]", "[]")
    assert updated_at == applied_at
    assert str(datetime.fromisoformat(updated_at)) == updated_at
