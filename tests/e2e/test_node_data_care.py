"""Backup, restore and purge through the real `daiban node` command."""

from __future__ import annotations

import json
import random
import re
import sqlite3
from pathlib import Path

from tests import support
from tests.factories import capture


def codes(db: Path) -> list[str]:
    con = sqlite3.connect(str(db))
    try:
        return [r[0] for r in con.execute("SELECT receipt_code FROM request ORDER BY receipt_code")]
    finally:
        con.close()


def test_backup_restore_purge_commands(tmp_path: Path) -> None:
    node = support.Service("node", tmp_path / "node", support.free_port())
    node.data_dir.mkdir()
    node.cli("init")
    form = tmp_path / "form.json"
    form.write_text(json.dumps(capture("DB-01"), ensure_ascii=False), encoding="utf-8")
    first = node.cli("capture", str(form)).stdout.strip()

    out = node.cli("backup", "--keep", "3").stdout
    backup = Path(re.search(r"已备份：(\S+)", out).group(1))  # type: ignore[union-attr]
    assert backup.parent == node.data_dir / "backups"
    assert codes(backup) == [first]

    # another villager (the same person and item again would be refused as 两头受理)
    form.write_text(
        json.dumps(capture("DB-01", rng=random.Random(2), name="李四"), ensure_ascii=False), encoding="utf-8"
    )
    second = node.cli("capture", str(form)).stdout.strip()
    assert sorted([first, second]) == codes(node.data_dir / "node.sqlite3")

    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    refused = node.cli("restore", str(junk), check=False)
    assert refused.returncode == 1
    assert "恢复失败" in refused.stderr
    assert sorted([first, second]) == codes(node.data_dir / "node.sqlite3")

    restored = node.cli("restore", str(backup)).stdout
    assert "已从" in restored
    assert "以中心记录为准" in restored
    assert codes(node.data_dir / "node.sqlite3") == [first]

    assert "已清除 0 件" in node.cli("purge", "--days", "0").stdout  # nothing closed and acknowledged yet
