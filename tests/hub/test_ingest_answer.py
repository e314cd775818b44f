"""A batch's answer hands over the downstream entries it just wrote from memory: the same bytes as read back.

hub/ingest.answer takes the entries the batch built (`written`) instead of reading them back and
decoding their JSON; the entries before them still come from the database. Every answer below is
built both ways and must encode to the same bytes (the hub's clock aside).
"""

from __future__ import annotations

from typing import Any

import pytest

from hub import ingest
from hub.enrolment import issue_code
from shared import encoding, protocol
from shared.catalogue import Catalogue
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every batch answer is built again from the database and compared; yields how many came from memory."""
    original = ingest.answer
    from_memory: list[int] = []

    def both_ways(*args: Any, written: list[ingest.Entry] | None = None, **kwargs: Any) -> dict[str, Any]:
        out = original(*args, written=written, **kwargs)
        if written:
            read = original(*args, written=None, **kwargs)
            node = ingest.Node.get_by_id(kwargs["node"].node_id)
            from_memory.append(len(ingest._tail(written, node.out_seq)))
            assert _bytes(out) == _bytes(read)
        return out

    monkeypatch.setattr(ingest, "answer", both_ways)
    return from_memory


def _bytes(body: dict[str, Any]) -> bytes:
    return encoding.canonical_message({k: v for k, v in body.items() if k != "hub_time"})


def _required(item: str) -> list[str]:
    found = Catalogue.default().item(item)
    assert found is not None
    return [m["code"] for m in found["materials"] if m["required"]]


def _capture(sim: NodeSim, item: str = "JF-01", *, missing: bool = False, code: str | None = None) -> Any:
    data = capture(item, missing=_required(item)[:1] if missing else None)
    data["receipt_code"] = code or new_code(sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


def _send(sim: NodeSim, events: list[dict[str, Any]], cursor: int) -> dict[str, Any]:
    body, raw = sim.batch(events, cursor=cursor)
    status, resp = sim.post(raw)
    assert status == 200, resp
    sim.advance(body)
    return resp


def test_the_answer_from_memory_is_the_answer_read_back(hub_client, compared: list[int]) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    # Captures, one waiting for materials, a refused one (a receipt code of another village), a second
    # application of the same person for the same item (a flagged note), a refused duplicate request.
    twice = _capture(sim, "DB-01")
    again = ("request.captured", protocol.new_id(), {**twice[2], "receipt_code": new_code(sim.prefix)})
    first = sim.events(
        _capture(sim), _capture(sim, "DB-01", missing=True), _capture(sim, code="ZZ-0000-0000"), twice, again
    )
    first.append({**first[0], "seq": first[-1]["seq"] + 1, "id": protocol.new_id()})
    resp = _send(sim, first, cursor=0)
    assert resp["ack"]["accepted"] == 4
    assert [u["cseq"] for u in resp["updates"]] == [1, 2, 3, 4, 5, 6]
    assert any("duplicate_of" in u for u in resp["updates"])
    # The cursor right before the batch's entries: the one at the cursor is read for its digest.
    resp = _send(sim, sim.events(_capture(sim), _capture(sim, "FP-01")), cursor=6)
    assert resp["at_cursor"]["digest"]
    assert [u["cseq"] for u in resp["updates"]] == [7, 8]
    # A node a batch behind (the answer before was still being applied): older entries read, new ones handed over.
    resp = _send(sim, sim.events(_capture(sim)), cursor=6)
    assert [u["cseq"] for u in resp["updates"]] == [7, 8, 9]
    # A cursor inside the batch's own entries, and one past the end.
    resp = _send(sim, sim.events(_capture(sim), _capture(sim), _capture(sim)), cursor=11)
    assert [u["cseq"] for u in resp["updates"]] == [12]
    resp = _send(sim, sim.events(_capture(sim)), cursor=99)
    assert resp["updates"] == []
    assert resp["cursor"] == 13
    assert compared == [6, 2, 1, 3, 1]


def test_entries_written_by_another_path_come_from_the_database(hub_client, compared: list[int]) -> None:
    sim = NodeSim(hub_client, issue_code("桃源村"))
    waiting = _capture(sim, "DB-01", missing=True)
    _send(sim, sim.events(waiting), cursor=0)
    # The supplement's status is written by cases.announce, between the batch writer's entries.
    events = sim.events(
        _capture(sim), ("request.supplemented", waiting[1], {"materials": _required("DB-01")[:1]}), _capture(sim)
    )
    resp = _send(sim, events, cursor=1)
    assert resp["ack"]["accepted"] == 3
    assert [u["cseq"] for u in resp["updates"]] == [2, 3, 4]
    assert compared == [1, 1]
