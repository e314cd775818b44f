"""A hub restored from an older backup, with real hub and node processes, on SQLite and PostgreSQL.

The promise: every hub decision reaches its village once, and nothing the restore lost is
shown as still decided without the clerk being told. Three ways it used to break
(issue 10): the node kept running across the restore (it spun forever); the node restarted;
the restore losing more decisions than are taken after it. Each ends with the content
oracle (tests/e2e/restore_oracle.py): every downstream entry's body and every request's
state and deadline at the node equal the hub's.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Generator, Iterator

import pytest

from tests import support
from tests.e2e.restore_oracle import content_diff, hub_query_for
from tests.e2e.test_chaos import Worker


class Drill:
    """A hub, one node process driven by commands, and the restores done to the hub."""

    def __init__(self, tmp: Path, db_url: str | None):
        self.tmp, self.db_url = tmp, db_url
        self.hub = support.make_hub(tmp, db_url).start()
        node, _ = support.make_node(tmp, "n1", self.hub, "桃源村")
        self.node_dir = node.data_dir
        self.worker = Worker("n1", node.data_dir, self.hub.url, timeout=10.0)
        self.worker.start()
        self.seed = 1000
        self.restores = 0
        self._databases: list[Generator[str, None, None]] = []

    @property
    def node_db(self) -> Path:
        return self.node_dir / "node.sqlite3"

    def query(self):
        return hub_query_for(self.hub.data_dir, self.hub.env.get("DATABASE_URL"))

    def capture(self, n: int) -> list[str]:
        codes = []
        for _ in range(n):
            self.seed += 1
            self.worker.send(f"capture {self.seed}")
            line = self.worker.expect(("ok", "invalid"), 30)
            assert line is not None, line
            assert line.startswith("ok "), line
            codes.append(line.split()[1])
        return codes

    def sync(self) -> str:
        self.worker.send("sync")
        line = self.worker.expect(("synced", "error"), 120)
        assert line is not None, "the sync round did not end"
        return line

    def act(self, code: str, action: str) -> None:
        res = self.hub.cli("act", code, action, check=False)
        assert res.returncode == 0, res.stderr

    def backup(self) -> Path:
        out = self.hub.cli("backup").stdout
        return Path(out.split("已备份：", 1)[1].strip())

    def restore(self, backup_file: Path) -> None:
        """Stop the hub and bring up one restored from the backup on the same address and key."""
        self.hub.stop()
        self.restores += 1
        fresh = self.tmp / f"hub-restored-{self.restores}"
        fresh.mkdir()
        (fresh / "hub_key.pem").write_bytes((self.hub.data_dir / "hub_key.pem").read_bytes())
        os.chmod(fresh / "hub_key.pem", 0o600)
        env: dict[str, str] = {}
        if self.db_url:
            gen = support.pg_database()
            self._databases.append(gen)
            env = {"DATABASE_URL": next(gen)}
        out = support.daiban("hub", "restore", str(backup_file), env={"DAIBAN_HUB_DIR": str(fresh), **env}).stdout
        assert "新的中心纪元" in out
        self.hub = support.Service("hub", fresh, self.hub.port, env=env).start()

    def settled(self) -> bool:
        with sqlite3.connect(self.node_db) as conn:
            queued = conn.execute("SELECT count(*) FROM event WHERE result IS NULL AND NOT quarantined").fetchone()[0]
            pending = conn.execute("SELECT count(*) FROM batch WHERE state = 'pending'").fetchone()[0]
            reconciling = conn.execute("SELECT value FROM meta WHERE key = 'reconcile'").fetchone()
        return queued == 0 and pending == 0 and (reconciling is None or json.loads(reconciling[0]) is None)

    def converge(self) -> None:
        for _ in range(6):
            line = self.sync()
            if line.startswith("synced") and self.settled():
                return
        raise AssertionError(f"the node did not converge: {line}")

    def cases(self, state: str) -> list[str]:
        return sorted(c for (c,) in self.query()('SELECT receipt_code FROM "case" WHERE state = ?', (state,)))

    def forgotten(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.node_db) as conn:
            return sorted(
                (json.loads(b).get("receipt_code", ""), json.loads(b).get("action", ""))
                for (b,) in conn.execute("SELECT body FROM forgottenupdate")
            )

    def close(self) -> None:
        self.worker.stop()
        self.hub.stop()
        for gen in self._databases:
            gen.close()


@pytest.fixture
def drill(tmp_path: Path, hub_db_url: str) -> Iterator[Drill]:
    d = Drill(tmp_path, None if hub_db_url.startswith("sqlite") else hub_db_url)
    try:
        yield d
    finally:
        d.close()


@pytest.mark.parametrize(
    "mode,after",
    [("running", 4), ("restarted", 2), ("running", 1)],
    ids=["kept-running", "restarted", "lost-more-than-taken-after"],
)
def test_nothing_skipped_after_a_restore(drill: Drill, mode: str, after: int) -> None:
    codes = drill.capture(4)
    assert drill.sync().startswith("synced")
    drill.act(codes[0], "accept")
    drill.act(codes[1], "accept")
    assert drill.sync().startswith("synced")
    backup = drill.backup()

    # What the restore will lose: two captures (their cases) and three decisions the village received.
    codes += drill.capture(2)
    assert drill.sync().startswith("synced")
    for code, action in [(codes[2], "accept"), (codes[4], "accept"), (codes[0], "approve")]:
        drill.act(code, action)
    assert drill.sync().startswith("synced")
    assert content_diff(drill.query(), drill.node_db) == []

    if mode == "restarted":
        drill.worker.stop()
    drill.restore(backup)
    taken_after = [(codes[3], "accept"), (codes[1], "approve"), (codes[2], "accept"), (codes[3], "approve")][:after]
    for code, action in taken_after:
        drill.act(code, action)
    if mode == "restarted":
        drill.worker.start()

    drill.converge()
    # The cases the restore lost came back from the village; a decision on one of them reaches it too.
    assert codes[4] in drill.cases("received")
    assert codes[5] in drill.cases("received")
    drill.act(codes[4], "accept")
    drill.converge()

    assert content_diff(drill.query(), drill.node_db) == []
    # The clerk is told what the hub forgot: the three decisions and the two receipts of lost cases.
    assert drill.forgotten() == sorted(
        [
            (codes[2], "accept"),
            (codes[4], "accept"),
            (codes[0], "approve"),
            (codes[4], "received"),
            (codes[5], "received"),
        ]
    )
    # The hub knows which village sent what again.
    resent = drill.query()("SELECT detail FROM auditentry WHERE action = 'sync.resent'", ())
    sent_again = {c for (d,) in resent for c in (json.loads(d) if isinstance(d, str) else d)["receipt_codes"]}
    assert {codes[4], codes[5]} <= sent_again
    # One more round through the real CLI changes nothing.
    drill.worker.stop()
    res = support.daiban("node", "--dir", str(drill.node_dir), "sync", check=False)
    assert res.returncode == 0, res.stderr
    drill.worker.start()
    assert content_diff(drill.query(), drill.node_db) == []


def test_new_epoch_after_promoting_a_standby(tmp_path: Path) -> None:
    """`daiban hub new-epoch`: the operator's step after a failover; audited, every answer carries it."""
    hub = support.make_hub(tmp_path).start()
    try:
        node, _ = support.make_node(tmp_path, "n1", hub, "桃源村")
        node.cli("sync")
        query = hub_query_for(hub.data_dir, None)
        ((before,),) = query("SELECT value FROM setting WHERE key = 'epoch'", ())
        out = hub.cli("new-epoch", "--yes").stdout
        ((after,),) = query("SELECT value FROM setting WHERE key = 'epoch'", ())
        assert after != before
        assert after in out
        assert query("SELECT target FROM auditentry WHERE action = 'hub.epoch'", ()) == [("promoted",)]
        assert "同步完成" in node.cli("sync").stdout
        with sqlite3.connect(node.data_dir / "node.sqlite3") as conn:
            ((epoch,),) = conn.execute("SELECT value FROM meta WHERE key = 'hub_epoch'").fetchall()
        assert json.loads(epoch) == after
    finally:
        hub.stop()


@pytest.mark.browser
def test_clerk_sees_in_chromium_what_the_restore_withdrew(tmp_path: Path) -> None:
    """A decision the village received is lost by a hub restore: `daiban node sync` says so, and the
    clerk sees it on the sync page and the request page in a real browser."""
    from tests.deploy.helpers import capture

    hub = support.make_hub(tmp_path).start()
    node, _ = support.make_node(tmp_path, "n1", hub, "桃源村")
    node.cli("add-clerk", "li", "--name", "李文书", "--password", "correct-horse-9")
    restored: support.Service | None = None
    try:
        code = capture(node, tmp_path, "张三")
        node.cli("sync")
        backup = Path(hub.cli("backup").stdout.split("已备份：", 1)[1].strip())
        hub.cli("act", code, "accept")
        node.cli("sync")
        hub.stop()
        fresh = tmp_path / "restored"
        fresh.mkdir()
        (fresh / "hub_key.pem").write_bytes((hub.data_dir / "hub_key.pem").read_bytes())
        os.chmod(fresh / "hub_key.pem", 0o600)
        support.daiban("hub", "restore", str(backup), env={"DAIBAN_HUB_DIR": str(fresh)})
        restored = support.Service("hub", fresh, hub.port).start()
        out = node.cli("sync").stdout
        assert "中心已不再记得的决定 1 条" in out
        node.start()
        with support.chromium() as browser:
            page = browser.new_page()
            page.goto(node.url + "/login")
            page.fill("#username", "li")
            page.fill("#password", "correct-horse-9")
            page.keyboard.press("Enter")
            page.wait_for_url(node.url + "/")
            page.goto(node.url + "/sync")
            notice = page.locator("#forgotten").inner_text()
            assert "不再记得" in notice
            assert "已受理" in notice
            assert "已接收" in notice
            page.locator("#forgotten a").first.click()
            assert "中心数据曾从备份恢复" in page.locator(".status-box").inner_text()
    finally:
        node.stop()
        hub.stop()
        if restored is not None:
            restored.stop()
