"""Capturing at the node: all errors at once, nothing half-saved, held requests stay local."""

from __future__ import annotations

import pytest

from node.capture import CaptureError, capture_request, release_held
from node.db import database
from node.models import Event, Request
from tests.factories import capture


def counts() -> tuple[int, int]:
    return Request.select().count(), Event.select().count()


def test_valid_capture_commits_request_and_event(node_app) -> None:
    req = capture_request(capture("DB-01"), "李文书")
    assert req.state == "queued"
    assert len(req.receipt_code) == 9
    ev = Event.get()
    assert ev.type == "request.captured"
    assert ev.clerk == "李文书"
    assert ev.seq is None


def test_bad_form_reports_every_error_and_saves_nothing(node_app) -> None:
    form = capture("DB-01")
    form["applicant"]["id_number"] = form["applicant"]["id_number"][:-1] + (
        "1" if form["applicant"]["id_number"][-1] != "1" else "2"
    )
    form["applicant"]["phone"] = "12345"
    form["item_code"] = "DB-01"
    before = counts()
    with pytest.raises(CaptureError) as err:
        capture_request(form, "李文书")
    fields = {e.field for e in err.value.errors}
    assert {"applicant.id_number", "applicant.phone"} <= fields
    assert counts() == before


def test_unknown_item_refused(node_app) -> None:
    form = capture("DB-01")
    form["item_code"] = "ZZ-01"
    with pytest.raises(CaptureError) as err:
        capture_request(form, "李文书")
    assert err.value.errors[0].field == "item_code"
    assert counts() == (0, 0)


def test_missing_materials_need_awaiting_or_hold(node_app) -> None:
    form = capture("JF-01", missing=["M-NEIGHBOURS"])
    form["submit"] = "submitted"
    with pytest.raises(CaptureError):
        capture_request(form, "李文书")
    form["submit"] = "held"
    req = capture_request(form, "李文书")
    assert req.state == "held"
    assert Event.select().count() == 0  # held requests are not sent
    released = release_held(req.receipt_code, "李文书")
    assert released.state == "queued"
    assert Event.get().data["submit"] == "awaiting_materials"


def test_api_capture_422_with_field_errors(node_app) -> None:
    from node import meta
    from node.api import token_hash

    with database.atomic():
        meta.put("api_token_hash", token_hash("t0ken"))
    client = node_app.test_client()
    form = capture("FP-01")
    form["applicant"]["id_number"] = "123"
    resp = client.post("/api/v1/requests", json=form, headers={"Authorization": "Bearer t0ken"})
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0]["field"] == "applicant.id_number"
    assert counts() == (0, 0)


def test_a_capture_event_carries_its_request_id_and_other_events_their_own(node_app) -> None:
    """One random id per request on the wire instead of two (docs/performance.md, "Where the bytes go")."""
    from node.capture import add_event, capture_request
    from node.db import database
    from node.models import Event
    from tests.factories import capture

    with database.connection_context():
        req = capture_request(capture("FP-02"), "李文书")
        later = add_event(req.receipt_code, "request.feedback", "李文书", {"text": "好"})
        captured = Event.get((Event.request_id == req.request_id) & (Event.type == "request.captured"))
    assert captured.event_id == req.request_id
    assert later.event_id not in (req.request_id, captured.event_id)


def test_request_ids_stay_unique_when_the_clock_repeats_or_goes_back(node_app, monkeypatch) -> None:
    """The id's day comes from the node's clock; a wrong clock costs only the order (shared.protocol.new_request_id)."""
    import random
    from datetime import datetime
    from types import SimpleNamespace

    from node import clock
    from shared import protocol

    # The random part drawn twice the same: the node draws again rather than reuse an id it holds.
    draws = iter([5, 5, 6, 7, 8])
    monkeypatch.setattr(protocol, "secrets", SimpleNamespace(randbits=lambda bits: next(draws)))
    monkeypatch.setattr(clock, "pinned", datetime(2027, 5, 1, 10, 0))
    with database.connection_context():
        first = capture_request(capture("DB-01"), "李文书")
        second = capture_request(capture("FP-02"), "李文书")  # same moment, same random part at first
        monkeypatch.setattr(clock, "pinned", datetime(2027, 4, 1, 10, 0))  # the clock set back a month
        third = capture_request(capture("DB-01", rng=random.Random(3)), "李文书")
    ids = [first.request_id, second.request_id, third.request_id]
    assert len(set(ids)) == 3
    prefix = first.receipt_code[:2]
    assert all(i[: -protocol.REQUEST_ID_TAIL_HEX] == prefix for i in ids)
    assert first.request_id[2:6] == second.request_id[2:6] == protocol.request_id_day(datetime(2027, 5, 1))
    assert second.request_id.endswith(f"{6:013x}")  # the second draw
    assert third.request_id < first.request_id  # earlier day, earlier in the order: only the order moved
