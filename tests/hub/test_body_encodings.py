"""Sync bodies in zstd or deflate (negotiated, docs/protocol.md): the hub reads both, says so on
every answer, and refuses a broken or oversized zstd body like a deflate one."""

from __future__ import annotations

import pytest

from shared import encoding, protocol
from tests.hub.test_sync_api import captured
from tests.nodesim import NodeSim
from tests.snapshots import hub_sync_state as snapshot


@pytest.mark.parametrize("name", ["zstd", "deflate"])
def test_a_compressed_batch_is_ingested_and_the_answer_names_both_encodings(sim: NodeSim, name: str) -> None:
    _, raw = sim.batch(sim.events(captured(sim), captured(sim, "DB-01")))
    body = encoding.compress_zstd(raw) if name == "zstd" else encoding.compress(raw)
    resp = sim.client.post(
        "/api/v1/sync", data=body, content_type="application/json", headers={"Content-Encoding": name}
    )
    assert resp.status_code == 200, resp.data[:300]
    assert {"zstd", "deflate"} <= {p.strip() for p in resp.headers["Accept-Encoding"].split(",")}
    status, answer = sim.post(raw)  # the same batch again, plain: acknowledged, nothing new
    assert status == 200
    assert answer["ack"]["last_seq"] == 2


def test_broken_or_oversized_zstd_is_refused_and_changes_nothing(sim: NodeSim) -> None:
    before = snapshot()
    status, resp = sim.post(b"\x28\xb5\x2f\xfd not a real frame", **{"Content-Encoding": "zstd"})
    assert status == 400
    assert resp["error"]["code"] == "bad_body"
    bomb = encoding.compress_zstd(b"[" * 10 + b" " * (protocol.MAX_INFLATED_BYTES + 100))
    status, resp = sim.post(bomb, **{"Content-Encoding": "zstd"})
    assert status == 413
    assert resp["error"]["code"] == "too_large"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("accept", "coding"), [("zstd, deflate", "zstd"), ("gzip, deflate", "deflate"), ("ZSTD;q=1", "zstd"), ("", None)]
)
def test_the_answer_comes_down_in_the_best_encoding_the_node_names(
    sim: NodeSim, accept: str, coding: str | None
) -> None:
    _, raw = sim.batch(sim.events(*(captured(sim) for _ in range(4))))
    resp = sim.client.post(
        "/api/v1/sync", data=raw, content_type="application/json", headers={"Accept-Encoding": accept}
    )
    assert resp.status_code == 200
    assert resp.headers.get("Content-Encoding") == coding
    data = resp.data
    if coding == "zstd":
        data = encoding.decompress_zstd(data, protocol.MAX_INFLATED_BYTES)
    elif coding == "deflate":
        data = encoding.decompress(data, protocol.MAX_INFLATED_BYTES)
    body, _sig = protocol.open_envelope(data)
    assert body["ack"]["last_seq"] == 4
    assert len(body["updates"]) == 4


@pytest.mark.parametrize(("link", "level"), [("slow", 17), ("SLOW ", 17), ("", 9), ("fast", 9)])
def test_a_node_on_a_slow_link_gets_its_answer_compressed_harder(sim: NodeSim, link: str, level: int) -> None:
    _, raw = sim.batch(sim.events(*(captured(sim) for _ in range(4))))
    headers = {"Accept-Encoding": "zstd, deflate"} | ({"Daiban-Link": link} if link else {})
    resp = sim.client.post("/api/v1/sync", data=raw, content_type="application/json", headers=headers)
    assert resp.status_code == 200
    assert resp.headers.get("Content-Encoding") == "zstd"
    data = encoding.decompress_zstd(resp.data, protocol.MAX_INFLATED_BYTES)
    assert protocol.open_envelope(data)[0]["ack"]["last_seq"] == 4
    # zstd is deterministic: the bytes sent are those of this level and of no other.
    assert resp.data == encoding.compress_zstd(data, level)
    assert resp.data != encoding.compress_zstd(data, 28 - level)


@pytest.mark.parametrize(
    ("size", "link", "tuned"), [(300_000, "", True), (300_000, "slow", False), (200_000, "", False)]
)
def test_a_large_answer_goes_at_the_lan_level_with_the_smaller_tables(
    hub_app, size: int, link: str, tuned: bool
) -> None:
    from hub import api

    # An answer of ~300 kB is that of a batch of ~800 captures; its text here is any JSON that size.
    updates = [{"n": i, "t": "已受理"} for i in range(size // 22)]
    raw = protocol.seal(hub_app.extensions["daiban_hub_key"], {"updates": updates})
    headers = {"Accept-Encoding": "zstd"} | ({"Daiban-Link": link} if link else {})
    with hub_app.test_request_context("/api/v1/sync", method="POST", headers=headers):
        resp = api._signed(200, raw)
    assert resp.headers["Content-Encoding"] == "zstd"
    assert encoding.decompress_zstd(resp.get_data(), protocol.MAX_INFLATED_BYTES) == raw
    level = 17 if link else encoding.ZSTD_LEVEL
    # zstd is deterministic: the bytes sent are those of this level and tuning, and of no other.
    assert resp.get_data() == encoding.compress_zstd(raw, level, api.ANSWER_LARGE_TUNING if tuned else None)
    if tuned:
        assert resp.get_data() != encoding.compress_zstd(raw, level)
