"""The hub's sync endpoint on SQLite and PostgreSQL: the honest path and every refusal."""

from __future__ import annotations

import json
import zlib

import pytest

from hub.enrolment import issue_code, revoke
from hub.models import Case, ForkAlert, Node, NodeEvent
from shared import encoding, protocol, signing
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim, enrol
from tests.snapshots import hub_sync_state as snapshot


def captured(sim: NodeSim, item: str = "JF-01", **kw):
    data = capture(item, **kw)
    data["receipt_code"] = new_code(sim.prefix)
    data["catalogue_version"] = 1
    return ("request.captured", protocol.new_id(), data)


def test_batch_ingested_routed_and_answered(sim: NodeSim) -> None:
    resp = sim.send(sim.events(captured(sim, "JF-01"), captured(sim, "DB-01"), captured(sim, "FP-01")))
    assert resp["ack"]["accepted"] == 3
    assert resp["ack"]["results"] == []
    windows = {c.item_code: c.window for c in Case.select()}
    assert windows == {"JF-01": "W09", "DB-01": "W05", "FP-01": "W10"}
    assert [u["state"] for u in resp["updates"]] == ["received"] * 3
    assert resp["cursor"] == 3
    assert resp["last_seq"] == 3
    assert Node.get().clock_offset_s is not None


def test_resent_batch_gets_same_ack_and_changes_nothing(sim: NodeSim) -> None:
    events = sim.events(captured(sim), captured(sim))
    body, raw = sim.batch(events)
    s1, r1 = sim.post(raw)
    before = snapshot()
    s2, r2 = sim.post(raw)
    assert (s1, s2) == (200, 200)
    assert r1["ack"] == r2["ack"]
    assert snapshot() == before
    assert Case.select().count() == 2


@pytest.mark.parametrize("mutation", ["bad_signature", "altered", "other_key"])
def test_forged_or_altered_batch_refused(sim: NodeSim, mutation: str) -> None:
    body, raw = sim.batch(sim.events(captured(sim)))
    env = json.loads(raw)
    if mutation == "bad_signature":
        env["sig"] = signing.sign(signing.generate_key(), b"x")
    elif mutation == "altered":
        env["body"]["events"][0]["data"]["applicant"]["name"] = "王五"
    else:
        env = json.loads(sim.batch(body["events"], key=signing.generate_key())[1])
    before = snapshot()
    status, resp = sim.post(encoding.canonical(env))
    assert status == 403
    assert resp["error"]["code"] == "bad_signature"
    assert snapshot() == before


def _spelled(form: str, body: dict, sig: str) -> bytes:
    """The same envelope (same body, same signature over canonical(body)) written another valid way."""
    if form == "spaces":
        return json.dumps({"body": body, "sig": sig}, sort_keys=True, ensure_ascii=False).encode()
    if form == "sig_first":
        return b'{"sig":"' + sig.encode() + b'","body":' + encoding.canonical(body) + b"}"
    if form == "ascii_escapes":  # the canonical frame around a body that is not canonical
        return json.dumps({"body": body, "sig": sig}, sort_keys=True, separators=(",", ":")).encode()
    if form == "body_keys_unsorted":  # ditto: the body's keys in the order built
        unsorted = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return b'{"body":' + unsorted + b',"sig":"' + sig.encode() + b'"}'
    if form == "extra_key":
        return encoding.canonical({"body": body, "sig": sig, "x": 1})
    assert form == "trailing_newline"
    return encoding.canonical({"body": body, "sig": sig}) + b"\n"


@pytest.mark.parametrize(
    "form", ["spaces", "sig_first", "ascii_escapes", "body_keys_unsorted", "extra_key", "trailing_newline"]
)
def test_a_signed_batch_spelled_another_way_is_taken_and_named_as_canonical(sim: NodeSim, form: str) -> None:
    """Not the canonical frame, or a body inside it that is not canonical: the signature over
    canonical(body) is checked and the batch named by it, as before reading the bytes as received."""
    body, raw = sim.batch(sim.events(captured(sim)))
    env = json.loads(raw)
    spelled = _spelled(form, body, env["sig"])  # body: its keys in the order built
    assert spelled != raw
    assert json.loads(spelled)["body"] == body
    status, resp = sim.post(spelled)
    assert status == 200, resp
    assert resp["ack"]["batch_hash"] == protocol.body_hash(body)
    sim.advance(body)
    assert sim.send(sim.events(captured(sim)))["ack"]["accepted"] == 1  # the chain goes on from that name


def test_a_body_its_node_signed_as_it_wrote_it_is_named_by_those_bytes(sim: NodeSim) -> None:
    """An enrolled key that signs a non-canonical body itself is taken at its word (docs/protocol.md,
    "Signed bytes as received"): the batch is named by the bytes it signed."""
    body, _ = sim.batch(sim.events(captured(sim)))
    written = json.dumps(body, ensure_ascii=False, indent=1).encode()
    raw = b'{"body":' + written + b',"sig":"' + signing.sign(sim.key, written).encode() + b'"}'
    status, resp = sim.post(raw)
    assert status == 200, resp
    assert resp["ack"]["batch_hash"] == encoding.digest(written) != protocol.body_hash(body)


def test_unknown_and_revoked_nodes_refused(sim: NodeSim) -> None:
    body, raw = sim.batch(sim.events(captured(sim)))
    env = json.loads(raw)
    env["body"]["node_id"] = "nosuchnode"
    before = snapshot()
    status, resp = sim.post(encoding.canonical(env))
    assert (status, resp["error"]["code"]) == (403, "unknown_node")
    revoke("桃源村")
    before = snapshot()
    status, resp = sim.post(raw)
    assert (status, resp["error"]["code"]) == (403, "revoked")
    assert snapshot() == before


def test_sequence_gap_refused_with_resume_point(sim: NodeSim) -> None:
    sim.send(sim.events(captured(sim)))
    sim.seq += 1  # skip one
    body, raw = sim.batch(sim.events(captured(sim)))
    before = snapshot()
    status, resp = sim.post(raw)
    assert status == 409
    assert resp["error"]["code"] == "sequence_gap"
    assert resp["error"]["resume_from"] == 2
    assert resp["last_seq"] == 1
    assert snapshot() == before


def test_wrong_previous_hash_refused(sim: NodeSim) -> None:
    sim.send(sim.events(captured(sim)))
    body, raw = sim.batch(sim.events(captured(sim)), prev_hash="ab" * 32)
    before = snapshot()
    status, resp = sim.post(raw)
    assert status == 409
    assert resp["error"]["code"] == "chain_broken"
    assert snapshot() == before


def test_fork_refused_and_recorded_for_supervisor(sim: NodeSim) -> None:
    first = sim.events(captured(sim))
    body, raw = sim.batch(first)
    assert sim.post(raw)[0] == 200
    other = sim.events(captured(sim))  # same seq 1, different content
    _, raw2 = sim.batch(other)
    before = snapshot()
    status, resp = sim.post(raw2)
    assert status == 409
    assert resp["error"]["code"] == "fork"
    assert snapshot() == before
    alert = ForkAlert.get()
    assert alert.first_seq == 1
    assert alert.offered_hash != alert.stored_hash


@pytest.mark.parametrize("raw", [b"", b"{not json", b'{"body": {"v": 1}', "\udcff".encode("utf-8", "surrogatepass")])
def test_truncated_or_garbage_body_refused(sim: NodeSim, raw: bytes) -> None:
    before = snapshot()
    status, resp = sim.post(raw)
    assert status == 400
    assert resp["error"]["code"] == "bad_body"
    assert snapshot() == before


def test_truncated_valid_batch_refused(sim: NodeSim) -> None:
    _, raw = sim.batch(sim.events(captured(sim)))
    before = snapshot()
    status, resp = sim.post(raw[: len(raw) // 2])
    assert status == 400
    assert resp["error"]["code"] == "bad_body"
    assert snapshot() == before


def test_oversized_body_gets_413(sim: NodeSim) -> None:
    before = snapshot()
    status, resp = sim.post(b"{" + b" " * (protocol.MAX_BODY_BYTES + 10) + b"}")
    assert status == 413
    assert resp["error"]["code"] == "too_large"
    bomb = zlib.compress(b"[" * 10 + b" " * (protocol.MAX_INFLATED_BYTES + 100))
    status, resp = sim.post(bomb, **{"Content-Encoding": "deflate"})
    assert status == 413
    assert snapshot() == before


def test_unsupported_version_refused(sim: NodeSim) -> None:
    body, _ = sim.batch(sim.events(captured(sim)))
    body["v"] = 99
    before = snapshot()
    status, resp = sim.post(protocol.seal(sim.key, body))
    assert status == 400
    assert resp["error"]["code"] == "unsupported_version"
    assert snapshot() == before


def test_wrong_content_type_refused(sim: NodeSim) -> None:
    _, raw = sim.batch(sim.events(captured(sim)))
    status, resp = sim.post(raw, content_type="text/plain")
    assert status == 415
    assert resp["error"]["code"] == "bad_content_type"
    assert Case.select().count() == 0


def test_invalid_event_refused_without_blocking_chain(sim: NodeSim) -> None:
    bad_id = captured(sim)
    bad_id[2]["applicant"]["id_number"] = bad_id[2]["applicant"]["id_number"][:-1] + (
        "0" if bad_id[2]["applicant"]["id_number"][-1] != "0" else "1"
    )
    unknown_item = captured(sim)
    unknown_item[2]["item_code"] = "XX-99"
    good = captured(sim)
    resp = sim.send(sim.events(bad_id, unknown_item, good))
    refused = {r["seq"]: r for r in resp["ack"]["results"]}
    assert set(refused) == {1, 2}
    assert resp["ack"]["accepted"] == 1
    assert "校验位" in refused[1]["message"]
    assert Case.select().count() == 1
    downs = [u for u in resp["updates"] if u["type"] == "event.refused"]
    assert {u["seq"] for u in downs} == {1, 2}
    assert all(u["state"] == "invalid" for u in downs)
    # the chain moved on: the next batch is accepted
    assert sim.send(sim.events(captured(sim)))["ack"]["accepted"] == 1


def test_updates_follow_cursor_and_hello_returns_history(sim: NodeSim) -> None:
    sim.send(sim.events(captured(sim), captured(sim)))
    resp = sim.poll(cursor=1)
    assert [u["cseq"] for u in resp["updates"]] == [2]
    hello = sim.poll(kind="hello", acked_seq=0)
    assert [h["seq"] for h in hello["history"]] == [1, 2]
    assert hello["last_seq"] == 2


def test_enrolment_code_is_one_time(hub_client) -> None:
    code = issue_code("李家村")
    NodeSim(hub_client, code)
    status, body = enrol(hub_client, code, signing.generate_key())
    assert status == 403
    assert body["error"]["code"] == "bad_code"
    assert Node.select().count() == 1


def test_catalogue_sent_to_node_on_old_version(sim: NodeSim) -> None:
    body = protocol.poll_body(sim.node_id, 0, catalogue_version=0, app_version="t")
    status, resp = sim.post(protocol.seal(sim.key, body))
    assert resp["catalogue"]["version"] == 1
    assert "catalogue" not in sim.poll()


def test_openapi_and_healthz(hub_client) -> None:
    spec = hub_client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/sync" in spec["paths"]
    assert spec["openapi"].startswith("3.")
    assert hub_client.get("/healthz").get_json()["status"] == "ok"


def test_each_event_is_stored_as_the_node_sent_it(sim: NodeSim) -> None:
    events = sim.events(captured(sim, "JF-01"), captured(sim, "DB-01"))
    sim.send(events)
    stored = {e.seq: e.body for e in NodeEvent.select()}
    assert stored == {ev["seq"]: ev for ev in events}
    cases = {c.request_id: c.captured for c in Case.select()}
    assert cases == {ev["request_id"]: ev["data"] for ev in events}


def test_a_supplement_answering_the_hubs_request_is_accepted(sim: NodeSim) -> None:
    """The village says which 补正 request it answers (answers_cseq); the hub takes it, not refuses the field."""
    ev = captured(sim, "DB-01", missing=["M-HUKOU", "M-INCOME"])
    sim.send(sim.events(ev))
    resp = sim.send(sim.events(("request.supplemented", ev[1], {"materials": ["M-HUKOU"], "answers_cseq": 1})))
    assert resp["ack"]["accepted"] == 1
    assert resp["ack"]["results"] == []
    assert Case.get_by_id(ev[1]).materials_missing == ["M-INCOME"]
    bad = sim.send(sim.events(("request.supplemented", ev[1], {"materials": ["M-INCOME"], "answers_cseq": 0})))
    assert [r["code"] for r in bad["ack"]["results"]] == ["bad_materials"]
    assert Case.get_by_id(ev[1]).materials_missing == ["M-INCOME"]
