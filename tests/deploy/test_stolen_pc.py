"""The stolen-PC drill: revoke, enrol a replacement with a new code, restore history, carry on the chain."""

from __future__ import annotations

from pathlib import Path

from tests import support
from tests.deploy.helpers import capture, hub_rows, node_rows


def test_stolen_pc_replaced_and_old_key_refused(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path).start()
    try:
        stolen, _ = support.make_node(tmp_path, "stolen", hub, "桃源村")
        codes = [capture(stolen, tmp_path, name) for name in ("赵一", "赵二", "赵三")]
        assert "同步完成" in stolen.cli("sync").stdout
        hub.cli("act", codes[0], "accept")

        assert "已停用" in hub.cli("revoke", "--village", "桃源村").stdout
        capture(stolen, tmp_path, "赵四")
        refused = stolen.cli("sync", check=False)
        assert refused.returncode == 1
        assert "停用" in refused.stderr
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(3,)]

        replacement = support.Service("node", tmp_path / "replacement", support.free_port())
        replacement.data_dir.mkdir()
        replacement.cli("init")
        code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
        replacement.cli("enroll", "--hub", hub.url, "--code", code)
        assert "同步完成" in replacement.cli("sync").stdout
        restored = dict(node_rows(replacement, "SELECT receipt_code, state FROM request"))
        assert sorted(restored) == sorted(codes)
        assert restored[codes[0]] == "accepted"
        assert [r[0] for r in node_rows(replacement, "SELECT seq FROM event ORDER BY seq")] == [1, 2, 3]

        new_code = capture(replacement, tmp_path, "钱五")
        assert "同步完成" in replacement.cli("sync").stdout
        assert node_rows(replacement, "SELECT seq, result FROM event WHERE seq = 4") == [(4, "ok")]
        assert hub_rows(hub, "SELECT last_seq, status FROM node") == [(4, "active")]
        assert hub_rows(hub, f"SELECT count(*) FROM \"case\" WHERE receipt_code = '{new_code}'") == [(1,)]

        # The thief's PC still holds the old key: everything it signs is refused, nothing is stored.
        again = stolen.cli("sync", check=False)
        assert again.returncode == 1
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(4,)]
        assert hub_rows(hub, "SELECT last_seq FROM node") == [(4,)]
    finally:
        hub.stop()
