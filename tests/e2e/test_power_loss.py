"""Power loss at the village: SIGKILL the node mid-capture and mid-apply, reopen, check.

What the clerk saw confirmed (the node prints a receipt code only after its commit)
must be in the database after the cut, the database must pass SQLite's integrity
check, and a half-applied hub answer must leave no trace (all of it or none).
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests import support
from tests.e2e.test_chaos import Worker, read_meta, set_meta

SEED = 4242


def check_database(db: Path, confirmed: set[str]) -> dict[str, Any]:
    """Integrity, durable settings, every confirmed capture with its queued event; returns the meta facts."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        codes = dict(conn.execute("SELECT receipt_code, request_id FROM request"))
        missing = confirmed - set(codes)
        assert not missing, f"confirmed to the clerk but lost: {sorted(missing)}"
        captured = {r for (r,) in conn.execute("SELECT request_id FROM event WHERE type = 'request.captured'")}
        assert {codes[c] for c in confirmed} <= captured, "a confirmed request lost its outbox event"
        # A request and its event commit together: no request without its event, or the reverse.
        assert set(codes.values()) == captured
        # An acknowledged batch has acknowledged events, and only acknowledged batches do.
        half = conn.execute(
            "SELECT count(*) FROM event e JOIN batch b ON e.batch_id = b.id "
            "WHERE (b.state = 'acked') != (e.result IS NOT NULL)"
        ).fetchone()[0]
        assert half == 0, "a batch and its events disagree about the hub's ack"
        meta = read_meta(conn)
        top = conn.execute("SELECT max(cseq) FROM hubupdate").fetchone()[0] or 0
        assert int(meta.get("cursor", 0)) == top, "cursor and applied updates disagree"
        # Numbers drafted ahead (a batch in the 'drafting' state, node/outbox.draft) follow the
        # chain's end and are not yet the chain's: the next cut signs or drops them.
        signed = "SELECT seq FROM event e LEFT JOIN batch b ON e.batch_id = b.id WHERE seq IS NOT NULL AND "
        seqs = [s for (s,) in conn.execute(signed + "(b.state IS NULL OR b.state != 'drafting') ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers are not gapless"
        assert int(meta.get("next_seq", 1)) == len(seqs) + 1
        drafted = [s for (s,) in conn.execute(signed + "b.state = 'drafting' ORDER BY seq")]
        assert drafted == list(range(len(seqs) + 1, len(seqs) + 1 + len(drafted))), "drafted numbers do not follow"
    return meta


def test_sigkill_mid_capture_loses_nothing_confirmed(tmp_path: Path) -> None:
    """A stream of captures cut by SIGKILL at random moments, four times over."""
    rng = random.Random(SEED)
    node = support.Service("node", tmp_path / "node", 0)
    node.data_dir.mkdir()
    node.cli("init")
    db = node.data_dir / "node.sqlite3"
    set_meta(db, "prefix", "23")
    confirmed: set[str] = set()
    kills = 0
    for _ in range(4):
        w = Worker("node", node.data_dir, "http://127.0.0.1:9", timeout=1)
        w.start()
        for _ in range(400):
            w.send(f"capture {rng.randrange(1 << 30)}")
        # Let some captures commit, then cut the power somewhere in the stream.
        first = w.expect(("ok",), 30)
        assert first is not None
        confirmed.add(first.split()[1])
        time.sleep(rng.random() * 0.5)
        printed = w.kill()
        kills += 1
        confirmed |= {line.split()[1] for line in printed if line.startswith("ok ")}
        check_database(db, confirmed)
    assert kills == 4
    assert len(confirmed) > 4


def test_sigkill_mid_apply_leaves_all_or_nothing(tmp_path: Path) -> None:
    """Kill the node while it applies the hub's answers; reopen; then finish and compare with the hub."""
    rng = random.Random(SEED + 1)
    hub = support.make_hub(tmp_path).start()
    try:
        node, _ = support.make_node(tmp_path, "node", hub, "桃源村")
        db = node.data_dir / "node.sqlite3"
        confirmed: set[str] = set()
        w = Worker("node", node.data_dir, hub.url, timeout=10)
        applies_cut = 0
        for _ in range(4):
            w.start()
            for _ in range(rng.randint(5, 25)):
                w.send(f"capture {rng.randrange(1 << 30)}")
                line = w.expect(("ok",), 30)
                assert line is not None
                confirmed.add(line.split()[1])
            w.send("sync")
            # Skip 0–2 applies (hello, ack, poll), then cut the power inside the next one.
            for _ in range(rng.randint(0, 2)):
                w.expect(("phase apply",), 30)
            line = w.expect(("phase apply", "synced", "error"), 30)
            time.sleep(rng.random() * 0.01)
            printed = w.kill()
            applies_cut += line == "phase apply"
            confirmed |= {x.split()[1] for x in printed if x.startswith("ok ")}
            check_database(db, confirmed)
        assert applies_cut >= 2
        # The clerk's next sync finishes the job: the hub holds every confirmed request once.
        for _ in range(3):
            res = node.cli("sync", check=False)
            if res.returncode == 0:
                break
        assert res.returncode == 0, res.stderr
        meta = check_database(db, confirmed)
        hub_db = hub.data_dir / "hub.sqlite3"
        with sqlite3.connect(hub_db) as conn:
            hub_codes = [c for (c,) in conn.execute('SELECT receipt_code FROM "case"')]
            last_seq, last_hash, out_seq = conn.execute("SELECT last_seq, last_hash, out_seq FROM node").fetchone()
        assert sorted(hub_codes) == sorted(set(hub_codes))
        assert set(hub_codes) >= confirmed
        assert (meta["next_seq"] - 1, meta["last_hash"], meta["cursor"]) == (last_seq, last_hash, out_seq)
    finally:
        hub.stop(signal.SIGTERM)
