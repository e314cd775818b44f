"""USB bundles between an in-process node and hub (SQLite and PostgreSQL): the honest trip and every refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import bundles as hub_bundles
from hub.db import database as hub_db
from hub.models import Attachment as HubAttachment
from hub.models import BundleImport, Case, HubEvent, Node, NodeBoxKey, NodeEvent
from node import bundles as node_bundles
from node import meta
from node.attachments import add_attachment
from node.capture import capture_request
from node.db import database
from node.models import Attachment, Batch, Event, HubUpdate, Meta, Request
from shared import bundle, protocol, signing
from shared.bundle import BundleError
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.images import photo
from tests.linked import Linked, link
from tests.nodesim import NodeSim


@pytest.fixture
def linked(hub_app, node_app) -> Linked:
    return link(hub_app, node_app)


def node_snapshot() -> tuple:
    """Everything a refused response bundle must leave untouched on the node."""
    with database.connection_context():
        return (
            sorted((m.key, m.value) for m in Meta.select() if m.key not in ("session_secret",)),
            [(e.event_id, e.seq, e.result) for e in Event.select().order_by(Event.id)],
            [(b.first_seq, b.state) for b in Batch.select().order_by(Batch.id)],
            [(r.receipt_code, r.state, r.deadline) for r in Request.select().order_by(Request.receipt_code)],
            HubUpdate.select().count(),
            [(a.sha256, a.uploaded_at) for a in Attachment.select()],
        )


def hub_snapshot() -> tuple:
    """Everything a refused bundle must leave untouched at the hub."""
    with hub_db.connection_context():
        return (
            [(n.node_id, n.last_seq, n.last_hash) for n in Node.select().order_by(Node.node_id)],
            NodeEvent.select().count(),
            Case.select().count(),
            HubEvent.select().count(),
            BundleImport.select().count(),
            [(a.sha256, a.received) for a in HubAttachment.select()],
        )


def capture_offline(n: int = 3, scan: bool = True) -> list[str]:
    with database.connection_context():
        codes = [capture_request(capture(item), "李文书").receipt_code for item in ("JF-01", "DB-01", "FP-02")[:n]]
        if scan:
            add_attachment(codes[0], "四邻意见.jpg", photo(800, 600), "李文书", "NEIGHBOURS")
    return codes


def hub_import(linked: Linked, raw: bytes) -> hub_bundles.ImportResult:
    app = linked.hub_app
    with hub_db.connection_context():
        return hub_bundles.import_bundle(
            raw, app.config["DATA_DIR"], app.extensions["daiban_hub_key"], app.extensions["daiban_hub_box_key"]
        )


def node_import(linked: Linked, raw: bytes) -> node_bundles.ImportResult:
    with database.connection_context():
        return node_bundles.import_response(raw, linked.key, node_bundles.box_key(linked.node_app.config["DATA_DIR"]))


def export(linked: Linked, tmp_path: Path, name: str = "out.daiban") -> bytes:
    path = tmp_path / name
    with database.connection_context():
        node_bundles.export_bundle(linked.key, path)
    return path.read_bytes()


def test_round_trip_by_usb(linked: Linked, tmp_path: Path) -> None:
    codes = capture_offline()
    raw = export(linked, tmp_path)
    # The bundle carries exactly the signed batches an HTTP round would send.
    opened = bundle.open_bundle(
        raw,
        direction=bundle.TO_HUB,
        recipient="hub",
        box_key=linked.hub_app.extensions["daiban_hub_box_key"],
        sender_pubkey=signing.public_b64(linked.key),
    )
    with database.connection_context():
        envelopes = [bytes(b.envelope) for b in Batch.select().order_by(Batch.first_seq)]
        assert [r.state for r in Request.select()] == ["queued"] * 3
    msgs = [bundle.decode_blob(m) for m in opened.payload["messages"]]
    assert msgs[1:-1] == envelopes
    assert len(envelopes) == 1
    assert [protocol.open_envelope(m)[0]["kind"] for m in msgs] == ["hello", "batch", "poll"]

    res = hub_import(linked, raw)
    assert res.accepted == 4
    assert res.refused == 0
    assert res.attachments == 1
    assert res.replayed_at is None
    with hub_db.connection_context():
        assert Case.select().count() == 3
        assert HubAttachment.get().received is True

    out = node_import(linked, res.response)
    assert out.acked == 4
    assert out.updates >= 3
    assert out.attachments == 1
    with database.connection_context():
        assert Event.select().where(Event.result.is_null()).count() == 0
        assert {r.receipt_code: r.state for r in Request.select()} == {c: "received" for c in codes}
        assert Attachment.get().uploaded_at is not None
        assert Batch.select().where(Batch.state == "pending").count() == 0


def test_hub_replay_changes_nothing_and_says_so(linked: Linked, tmp_path: Path) -> None:
    capture_offline(2, scan=False)
    raw = export(linked, tmp_path)
    first = hub_import(linked, raw)
    before = hub_snapshot()
    second = hub_import(linked, raw)
    assert second.replayed_at is not None
    assert "导入过" in second.summary()
    assert "未做任何更改" in second.summary()
    assert second.response == first.response
    assert hub_snapshot() == before


def test_node_replay_changes_nothing_and_says_so(linked: Linked, tmp_path: Path) -> None:
    capture_offline(1, scan=False)
    res = hub_import(linked, export(linked, tmp_path))
    node_import(linked, res.response)
    before = node_snapshot()
    with pytest.raises(BundleError) as err:
        node_import(linked, res.response)
    assert err.value.code == "replayed"
    assert "已于" in err.value.message
    assert "未做任何更改" in err.value.message
    assert node_snapshot() == before


@pytest.mark.parametrize("where", [0.5, 0.97])
def test_tampered_bundles_are_refused(linked: Linked, tmp_path: Path, where: float) -> None:
    capture_offline(1)
    raw = bytearray(export(linked, tmp_path))
    pos = int(len(raw) * where)
    raw[pos] ^= 0x01
    before = hub_snapshot()
    with pytest.raises(BundleError) as err:
        hub_import(linked, bytes(raw))
    assert any(w in err.value.message for w in ("篡改", "损坏", "无法解密")), err.value.message
    assert hub_snapshot() == before

    good = hub_import(linked, bytes(raw[:pos]) + bytes([raw[pos] ^ 0x01]) + bytes(raw[pos + 1 :]))
    resp = bytearray(good.response)
    resp[int(len(resp) * where)] ^= 0x01
    before = node_snapshot()
    with pytest.raises(BundleError) as err:
        node_import(linked, bytes(resp))
    assert any(w in err.value.message for w in ("篡改", "损坏", "无法解密")), err.value.message
    assert node_snapshot() == before


def test_response_for_another_node_is_refused(linked: Linked, tmp_path: Path) -> None:
    from hub.enrolment import issue_code

    with hub_db.connection_context():
        code = issue_code("李家村")
    other = NodeSim(linked.hub_app.test_client(), code)
    other_box = bundle.generate_box_key()
    with hub_db.connection_context():
        NodeBoxKey.create(node=other.node_id, pubkey=bundle.box_public_b64(other_box))
    data = capture("JF-01")
    data.update(receipt_code=new_code(other.prefix), catalogue_version=1)
    _, batch = other.batch(other.events(("request.captured", protocol.new_id(), data)))
    hub_box = bundle.box_public_b64(linked.hub_app.extensions["daiban_hub_box_key"])
    raw = bundle.seal(
        {"messages": [bundle.encode_blob(batch)]},
        direction=bundle.TO_HUB,
        sender=other.node_id,
        recipient="hub",
        recipient_box_pub=hub_box,
        signing_key=other.key,
    )
    res = hub_import(linked, raw)
    assert res.accepted == 1
    capture_offline(1, scan=False)
    export(linked, tmp_path)  # this node has an export waiting for its own answer
    before = node_snapshot()
    with pytest.raises(BundleError) as err:
        node_import(linked, res.response)
    assert err.value.code == "wrong_recipient"
    assert "其他代办点" in err.value.message
    assert node_snapshot() == before


def test_bundle_from_unknown_node_is_refused(linked: Linked) -> None:
    hub_box = bundle.box_public_b64(linked.hub_app.extensions["daiban_hub_box_key"])
    raw = bundle.seal(
        {"messages": []},
        direction=bundle.TO_HUB,
        sender="nobody",
        recipient="hub",
        recipient_box_pub=hub_box,
        signing_key=signing.generate_key(),
    )
    before = hub_snapshot()
    with pytest.raises(BundleError) as err:
        hub_import(linked, raw)
    assert "未在本中心登记" in err.value.message
    assert hub_snapshot() == before


def test_export_needs_enrolment_with_box_key(node_app, tmp_path: Path) -> None:
    with database.connection_context():
        with pytest.raises(BundleError) as err:
            node_bundles.export_bundle(node_app.extensions["daiban_node_key"], tmp_path / "x")
    assert "尚未注册" in err.value.message
    assert not (tmp_path / "x").exists()


def test_http_sync_after_export_then_late_import_is_harmless(linked: Linked, tmp_path: Path) -> None:
    capture_offline(2, scan=False)
    raw = export(linked, tmp_path)
    linked.client().round()  # the network came back before the USB stick reached the township
    res = hub_import(linked, raw)
    assert res.accepted == 2  # the stored ack, nothing ingested twice
    with hub_db.connection_context():
        assert Case.select().count() == 2
    out = node_import(linked, res.response)
    assert out.acked == 2
    with database.connection_context():
        assert meta.get("acked_seq") == 2


def test_usb_village_rebuilds_its_log_after_a_hub_restore(linked: Linked, tmp_path: Path, monkeypatch) -> None:
    """A village that only syncs by USB: the bundle that reveals a new epoch starts the rebuild, and
    each later bundle carries one page of the hub's log until the node's copy equals it."""
    from hub import cases, restores

    monkeypatch.setattr(protocol, "MAX_UPDATES_PER_RESPONSE", 2)
    codes = capture_offline(scan=False)
    node_import(linked, hub_import(linked, export(linked, tmp_path, "1")).response)
    with hub_db.connection_context():
        for code in codes:
            cases.act(code, "accept", "窗口")
        # The hub loses its last decision (a restore) and draws a new epoch.
        last = HubEvent.select().order_by(HubEvent.cseq.desc()).first()
        last.delete_instance()
        Node.update(out_seq=last.cseq - 1).execute()
        Case.update(state="received").where(Case.request_id == last.request_id).execute()
        restores.new_epoch("restore")
    for trip in range(12):
        node_import(linked, hub_import(linked, export(linked, tmp_path, f"t{trip}")).response)
        with database.connection_context():
            if meta.get("reconcile") is None and meta.get("hub_epoch") == restores_epoch(linked):
                break
    else:
        raise AssertionError("the rebuild never finished by USB")
    with database.connection_context(), hub_db.connection_context():
        assert [(u.cseq, u.body["action"]) for u in HubUpdate.select().order_by(HubUpdate.cseq)] == [
            (e.cseq, e.body["action"]) for e in HubEvent.select().order_by(HubEvent.cseq)
        ]
        assert {r.receipt_code: r.state for r in Request.select()} == {c.receipt_code: c.state for c in Case.select()}


def restores_epoch(linked: Linked) -> str:
    from hub import restores

    with hub_db.connection_context():
        return restores.current_epoch()
