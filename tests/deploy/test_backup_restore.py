"""Restore drills: hub backup (SQLite online backup / pg_dump) restored into a fresh instance, same contents."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hub.backup import prune
from tests import support
from tests.deploy.helpers import capture

TABLES = ["village", "node", "batch", "nodeevent", "case", "hubevent", "catalogueversion", "setting"]


def _dump(url: str | None, data_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the hub's main tables, in a stable order."""
    from hub.db import open_database

    db = open_database(url or f"sqlite:///{data_dir / 'hub.sqlite3'}")
    db.connect()
    try:
        out = {}
        for table in TABLES:
            cols = [c.name for c in db.get_columns(table)]
            rows = db.execute_sql(f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"').fetchall()
            out[table] = sorted((tuple(str(v) for v in r) for r in rows))
        # A restore draws a new epoch on purpose (docs/protocol.md): compared on its own.
        out["epoch"] = [r for r in out["setting"] if r[0] == "epoch"]
        out["setting"] = [r for r in out["setting"] if r[0] not in ("epoch", "epoch_at")]
        return out
    finally:
        db.close()


def test_hub_backup_restores_into_a_fresh_instance(tmp_path: Path, hub_db_url: str) -> None:
    url = None if hub_db_url.startswith("sqlite") else hub_db_url
    hub = support.make_hub(tmp_path, url).start()
    try:
        node, _ = support.make_node(tmp_path, "n1", hub, "桃源村")
        for name in ("张一", "张二"):
            capture(node, tmp_path, name)
        node.cli("sync")
        code = capture(node, tmp_path, "张三")  # a new villager: 张一 again would be 两头受理
        node.cli("sync")
        hub.cli("act", code, "accept")
        out = hub.cli("backup", "--keep", "3").stdout
    finally:
        hub.stop()
    backup_file = Path(out.split("已备份：", 1)[1].strip())
    assert backup_file.exists()
    assert oct(backup_file.stat().st_mode & 0o777) == "0o600"
    before = _dump(url, hub.data_dir)
    assert len(before["case"]) == 3
    assert before["hubevent"]

    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    gen = support.pg_database() if url else None
    fresh_url = next(gen) if gen else None
    try:
        env = {"DAIBAN_HUB_DIR": str(fresh_dir), **({"DATABASE_URL": fresh_url} if fresh_url else {})}
        refused = support.daiban("hub", "restore", str(backup_file), env=env, check=False)
        assert refused.returncode != 0
        assert "中心密钥" in refused.stderr
        (fresh_dir / "hub_key.pem").write_bytes((hub.data_dir / "hub_key.pem").read_bytes())
        os.chmod(fresh_dir / "hub_key.pem", 0o600)
        assert "已恢复" in support.daiban("hub", "restore", str(backup_file), env=env).stdout
        restored_dump = _dump(fresh_url, fresh_dir)
        assert restored_dump.pop("epoch") != before.pop("epoch")
        assert restored_dump == before
        # A second restore over a database holding data is refused and changes nothing.
        again = support.daiban("hub", "restore", str(backup_file), env=env, check=False)
        assert again.returncode != 0
        again_dump = _dump(fresh_url, fresh_dir)
        again_dump.pop("epoch")
        assert again_dump == before
        # The restored hub serves the node as before.
        restored = support.Service(
            "hub", fresh_dir, hub.port, env={k: v for k, v in env.items() if k == "DATABASE_URL"}
        ).start()
        try:
            capture(node, tmp_path, "张三")
            assert "同步完成" in node.cli("sync").stdout
        finally:
            restored.stop()
    finally:
        if gen:
            gen.close()


def test_retention_keeps_the_newest(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"hub-2026010{i}T000000Z.sqlite3").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("keep me")
    gone = prune(tmp_path, 2)
    assert sorted(p.name for p in gone) == [f"hub-2026010{i}T000000Z.sqlite3" for i in range(3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hub-20260103T000000Z.sqlite3",
        "hub-20260104T000000Z.sqlite3",
        "notes.txt",
    ]
