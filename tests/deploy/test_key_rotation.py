"""Hub key rotation: nodes take up the new key from a statement the old key signed; nothing else moves them."""

from __future__ import annotations

from pathlib import Path

from shared import encoding, protocol, signing
from tests import support
from tests.deploy.helpers import capture, hub_rows, node_meta


def _statement(old, new_pub: str) -> dict:
    body = protocol.rotation_body(signing.public_b64(old), new_pub, 2)
    return {"body": body, "sig": signing.sign(old, encoding.canonical(body))}


def test_follow_rotations_only_trusts_steps_signed_by_the_pinned_key() -> None:
    k1, k2, k3, rogue = (signing.generate_key() for _ in range(4))
    p1, p2, p3 = (signing.public_b64(k) for k in (k1, k2, k3))
    chain = [_statement(k1, p2), _statement(k2, p3)]
    assert protocol.follow_rotations(p1, chain) == p3
    assert protocol.follow_rotations(p2, chain) == p3
    forged = [
        _statement(rogue, signing.public_b64(rogue))
        | {"body": {**chain[0]["body"], "new_pubkey": signing.public_b64(rogue)}}
    ]
    assert protocol.follow_rotations(p1, forged) == p1
    assert protocol.follow_rotations(p1, "nonsense") == p1
    assert protocol.follow_rotations(p1, [{"body": {"kind": "key_rotation"}, "sig": 5}]) == p1


def test_rotation_reaches_nodes_and_an_unsigned_key_change_is_refused(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path).start()
    try:
        node, _ = support.make_node(tmp_path, "n1", hub, "桃源村")
        usb_node, _ = support.make_node(tmp_path, "n2", hub, "杏花村")  # syncs only by USB stick later
        first_key = node_meta(node, "hub_pubkey")
        capture(node, tmp_path, "张一")
        assert "同步完成" in node.cli("sync").stdout

        hub.stop()
        out = hub.cli("rotate-key", "--yes").stdout
        assert "中心密钥已轮换" in out
        assert (hub.data_dir / "hub_key.v1.retired.pem").exists()
        hub.start()
        capture(node, tmp_path, "张二")
        assert "同步完成" in node.cli("sync").stdout
        new_key = node_meta(node, "hub_pubkey")
        assert new_key != first_key
        assert new_key == signing.public_b64(signing.load_private_key(hub.data_dir / "hub_key.pem"))
        assert hub_rows(hub, 'SELECT count(*) FROM "case"')[0][0] == 2

        # A village that only syncs by USB learns the new key from the response bundle.
        capture(usb_node, tmp_path, "李一")
        usb_node.cli("export-bundle", str(tmp_path / "up.bundle"))
        hub.cli("import-bundle", str(tmp_path / "up.bundle"), "--out", str(tmp_path / "down.bundle"))
        assert "已导入回复包" in usb_node.cli("import-bundle", str(tmp_path / "down.bundle")).stdout
        assert node_meta(usb_node, "hub_pubkey") == new_key
        assert hub_rows(hub, 'SELECT count(*) FROM "case"')[0][0] == 3

        # Someone swaps the hub key without a rotation (a stolen identity, a botched restore).
        hub.stop()
        (hub.data_dir / "hub_key.pem").unlink()
        signing.save_private_key(signing.generate_key(), hub.data_dir / "hub_key.pem")
        hub.start()
        capture(node, tmp_path, "张三")
        result = node.cli("sync", check=False)
        assert result.returncode == 1
        assert "签名无效" in result.stderr
        assert node_meta(node, "hub_pubkey") == new_key
    finally:
        hub.stop()
