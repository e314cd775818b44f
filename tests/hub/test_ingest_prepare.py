"""A batch's pure work is done before its transaction, yet the hub applies what is in force under the lock.

hub/ingest.prepare_ahead cleans, validates and encodes a batch's events with the catalogue and the
village prefix read without any lock, so other villages' batches commit meanwhile. A catalogue
published (or a prefix changed) in between must not let the batch through on the old rules; and a
batch prepared ahead must store exactly what the same batch prepared under the lock stores.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub import ingest
from hub.catalogue_store import current as current_catalogue
from hub.clock import now
from hub.db import database
from hub.enrolment import issue_code
from hub.models import Case, CatalogueVersion, HubEvent, NodeEvent, Village
from shared import protocol
from shared.receipt_codes import new_code
from shared.validation import id_check_digit
from tests.factories import capture
from tests.nodesim import NodeSim


def _capture(sim: NodeSim, item: str = "JF-01", **kw: Any) -> tuple[str, str, dict[str, Any]]:
    data = capture(item, **kw)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


def _after_preparing(monkeypatch: pytest.MonkeyPatch, change: Any) -> list[int]:
    """Run `change` right after prepare_ahead has done its work; the list counts the batches it prepared."""
    real, calls = ingest.prepare_ahead, []

    def prepare_then_change(node: Any, body: dict[str, Any]) -> ingest.PreparedBatch:
        prepared = real(node, body)
        calls.append(len(prepared.events))
        change()
        return prepared

    monkeypatch.setattr(ingest, "prepare_ahead", prepare_then_change)
    return calls


def _publish_without(item_code: str) -> None:
    data = copy.deepcopy(current_catalogue().to_dict())
    data["items"] = [i for i in data["items"] if i["code"] != item_code]
    data["version"] += 1
    with database.atomic():
        CatalogueVersion.create(version=data["version"], data=data, created_at=now(), note="test")


def test_a_catalogue_published_after_preparing_is_the_one_the_batch_meets(hub_client, monkeypatch) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    calls = _after_preparing(monkeypatch, lambda: _publish_without("JF-01"))
    events = sim.events(_capture(sim, "JF-01"), _capture(sim, "FP-01"))
    ack = sim.send(events)["ack"]
    assert calls == [2]
    assert ack["accepted"] == 1
    assert [(r["seq"], r["status"]) for r in ack["results"]] == [(events[0]["seq"], "refused")]
    assert [c.item_code for c in Case.select()] == ["FP-01"]


def test_a_prefix_changed_after_preparing_refuses_the_old_prefix_codes(hub_client, monkeypatch) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))

    def move_prefix() -> None:
        Village.update(prefix="ZZ").where(Village.prefix == sim.prefix).execute()

    _after_preparing(monkeypatch, move_prefix)
    events = sim.events(_capture(sim))
    ack = sim.send(events)["ack"]
    assert ack["accepted"] == 0
    assert ack["results"][0]["code"] == "bad_receipt_code"
    assert Case.select().count() == 0


def test_a_resent_batch_is_not_prepared_again(hub_client, monkeypatch) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    calls = _after_preparing(monkeypatch, lambda: None)
    body, raw = sim.batch(sim.events(_capture(sim)))
    first = sim.post(raw)
    again = sim.post(raw)
    assert first[0] == again[0] == 200
    assert again[1]["ack"] == first[1]["ack"]
    assert calls == [1]


def _id_ending_in_x() -> str:
    """A valid ID number whose check digit is X (sent as a lower-case x, stored upper-case)."""
    return next(b + "X" for n in range(1000) if id_check_digit(b := f"11010519800101{n:03d}") == "X")


def _tricky_batch(sim: NodeSim) -> list[dict[str, Any]]:
    """Every path of apply_event: accepted, cleaned, refused by content, by prefix, repeated ids and requests."""
    ok, cleaned = _capture(sim, "JF-01"), _capture(sim, "FP-01")
    cleaned[2]["applicant"]["id_number"] = _id_ending_in_x().lower()
    invalid = _capture(sim, "JF-01")
    invalid[2]["applicant"]["name"] = ""
    foreign = _capture(sim, "JF-01")
    foreign[2]["receipt_code"] = new_code("QQ")
    events = sim.events(
        ok,
        cleaned,
        invalid,
        foreign,
        (ok[0], ok[1], _capture(sim)[2]),  # the same request again
        ("request.withdrawn", ok[1], {"reason": "不办了"}),
        ("no.such.type", protocol.new_id(), {}),
    )
    # An event repeating an accepted event's id, with other data: refused, stored as the hub always stored it.
    events[4]["id"] = events[0]["id"]
    return events


def _stored() -> list[Any]:
    def rows(model: Any, order: Any, skip: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in skip} for r in model.select().order_by(order).dicts()]

    times = ("received_at", "updated_at", "at", "id")
    return [
        rows(Case, Case.receipt_code, times),
        rows(NodeEvent, NodeEvent.seq, ("id", "node")),
        rows(HubEvent, HubEvent.cseq, (*times, "node")),
    ]


@pytest.mark.parametrize("ahead", [True, False], ids=["prepared-ahead", "prepared-under-the-lock"])
def test_a_batch_stores_the_same_rows_prepared_ahead_or_under_the_lock(hub_client, monkeypatch, ahead) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    if not ahead:
        # A stale catalogue object: ingest_batch must prepare again under the lock.
        real = ingest.prepare_ahead
        monkeypatch.setattr(
            ingest,
            "prepare_ahead",
            lambda node, body: ingest.PreparedBatch(copy.copy(real(node, body).catalogue), sim.prefix, []),
        )
    events = _tricky_batch(sim)
    answer = sim.send(events)
    stored = _stored()
    assert answer["ack"]["accepted"] == 3  # ok, cleaned, the withdrawal
    by_seq = {n["seq"]: n for n in stored[1]}
    assert by_seq[events[4]["seq"]]["body"]["data"] == events[0]["data"]
    assert [n["result"] for n in stored[1]] == ["ok", "ok", "refused", "refused", "refused", "ok", "refused"]
    assert [c["id_number"][-1] for c in stored[0] if c["item_code"] == "FP-01"] == ["X"]
    # The case keeps the cleaned capture when cleaning changed it, else the node's own data.
    captured = {c["item_code"]: c["captured"] for c in stored[0]}
    assert captured["FP-01"]["applicant"]["id_number"] == events[1]["data"]["applicant"]["id_number"].upper()
    assert captured["FP-01"] != events[1]["data"]
    assert captured["JF-01"] == events[0]["data"]
