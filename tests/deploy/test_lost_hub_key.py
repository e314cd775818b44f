"""The lost-hub-key drill: a new key, nodes refuse it until each is re-enrolled, then nothing is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests import support
from tests.deploy.helpers import capture, hub_rows, node_rows


def test_lost_hub_key_recovered_by_re_enrolling_nodes(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path).start()
    try:
        node, _ = support.make_node(tmp_path, "n1", hub, "桃源村")
        capture(node, tmp_path, "孙一")
        node.cli("sync")
        backup_file = hub.cli("backup", "--out", str(tmp_path / "offsite")).stdout.split("已备份：", 1)[1].strip()
    finally:
        hub.stop()

    # The hub disk died with its key; the database comes back from the off-site backup, the key does not.
    shutil.rmtree(hub.data_dir)
    hub.data_dir.mkdir()
    out = hub.cli("restore", "--new-key", backup_file).stdout
    assert "已恢复" in out
    assert "中心密钥指纹" in out
    hub.start()
    try:
        pending = capture(node, tmp_path, "孙二")
        refused = node.cli("sync", check=False)
        assert refused.returncode == 1
        assert "签名无效" in refused.stderr
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(1,)]

        hub.cli("revoke", "--village", "桃源村")
        code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
        node.cli("enroll", "--hub", hub.url, "--code", code)
        assert "同步完成" in node.cli("sync").stdout
        assert hub_rows(hub, f"SELECT count(*) FROM \"case\" WHERE receipt_code = '{pending}'") == [(1,)]
        assert hub_rows(hub, "SELECT last_seq, status FROM node") == [(2, "active")]
        assert node_rows(node, "SELECT count(*) FROM event WHERE result IS NULL") == [(0,)]
    finally:
        hub.stop()
