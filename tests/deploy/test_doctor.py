"""`daiban node doctor` on a healthy village PC and on one with every common fault."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from tests import support
from tests.deploy.helpers import capture


def test_doctor_healthy_then_every_fault_named(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path).start()
    try:
        node, _ = support.make_node(tmp_path, "n1", hub, "桃源村")
        capture(node, tmp_path)
        node.cli("sync")
        (node.data_dir / "backups").mkdir()
        backup = node.data_dir / "backups" / "node-20260101.sqlite3"
        backup.write_bytes(b"backup")
        healthy = node.cli("doctor", check=False)
        assert healthy.returncode == 0, healthy.stdout
        assert "一切正常" in healthy.stdout
        assert "[需处理]" not in healthy.stdout
    finally:
        hub.stop()

    os.chmod(node.data_dir / "node_key.pem", 0o644)
    old = time.time() - 10 * 86400
    os.utime(backup, (old, old))
    with sqlite3.connect(node.data_dir / "node.sqlite3") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'clock_offset_s'", (json.dumps(-3600),))
    sick = node.cli("doctor", check=False)
    assert sick.returncode == 1
    out = sick.stdout
    assert "chmod 600" in out
    assert "连不上乡镇中心" in out
    assert "慢 60 分钟" in out
    assert "10 天前" in out
    assert "共 4 项需要处理" in out
    assert "[正常] 数据库：数据库完好" in out
