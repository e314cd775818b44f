"""Chaos sync: real node processes and a real hub behind a failing link, killed at random.

The promise under test: every request a clerk saw saved reaches the hub exactly once,
every hub decision reaches its village, and afterwards every node's chain and cursor
agree with the hub, and so does the content: every downstream entry's body and every
request's state (tests/e2e/restore_oracle.py), also after the hub was replaced by one
restored from an older backup at random rounds.  The quick variant runs in `make test`; the long one
(`make chaos`, DAIBAN_CHAOS_ROUNDS rounds) prints the figures for docs/reliability.md.
Replay a failure with DAIBAN_CHAOS_SEED=<the seed printed>.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
from typing import Any
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests import support
from tests.e2e.restore_oracle import content_diff, hub_query_for
from tests.faultlink import FAULTS, FaultLink

QUICK_RATES = {
    "drop_before": 0.06,
    "drop_after": 0.08,
    "delay": 0.05,
    "throttle": 0.02,
    "truncate_request": 0.04,
    "truncate_response": 0.05,
    "duplicate": 0.06,
    "reorder": 0.03,
    "bad_gateway": 0.04,
    "unavailable": 0.03,
    "hang": 0.01,
}


class Worker:
    """A node process (tests/e2e/chaos_node.py) fed commands; its answers arrive on a queue."""

    def __init__(self, name: str, data_dir: Path, url: str, timeout: float):
        self.name, self.data_dir, self.url, self.timeout = name, data_dir, url, timeout
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()

    def start(self) -> None:
        """Start the process and wait until it has opened its database."""
        log = open(self.data_dir / "worker.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.chaos_node", str(self.data_dir), self.url, str(self.timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=support.ROOT,
            text=True,
            bufsize=1,
        )
        log.close()  # the child holds its own descriptor
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        assert self.expect(("ready",), 90) == "ready", f"{self.name} did not start"

    @staticmethod
    def _read(proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line.strip())
        lines.put(None)

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def send(self, cmd: str) -> None:
        """One command line to the process."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def expect(self, prefixes: tuple[str, ...], timeout: float, seen: list[str] | None = None) -> str | None:
        """The next line starting with one of prefixes; None if the process died or time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return None
            if seen is not None:
                seen.append(line)
            if line.startswith(prefixes):
                return line

    def kill(self) -> list[str]:
        """SIGKILL, a power cut for this node; returns what it had printed before it died."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        out = []
        while True:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            out.append(line)
        self._close_pipes()
        return out

    def _close_pipes(self) -> None:
        # A killed process leaves its pipes open on our side; close them (filterwarnings=error).
        assert self.proc is not None
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except OSError:  # a broken pipe to a dead process
                    pass

    def stop(self) -> None:
        """End the process cleanly by closing its input."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self._close_pipes()


def set_meta(db: Path, key: str, value: object) -> None:
    """Write one node meta fact straight into its database (test set-up only)."""
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))


def read_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    """Every node meta fact, decoded."""
    return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}


@dataclass
class Chaos:
    """One chaos run: a hub, a link, node workers, a seeded plan and the figures it produced."""

    tmp: Path
    seed: int
    nodes: int
    rates: dict[str, float]
    p_node_kill: float = 0.15
    p_hub_kill: float = 0.01
    p_hub_restart: float = 0.01
    p_act: float = 0.08
    p_backup: float = 0.04
    p_restore: float = 0.0
    min_restores: int = 0
    db_url: str | None = None
    figures: Counter = field(default_factory=Counter)
    confirmed: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import random

        self.rng = random.Random(self.seed)
        self.kill_rng = random.Random(self.seed + 1)
        self.hub = support.make_hub(self.tmp, self.db_url)
        self.hub.start()
        self.link = FaultLink(
            self.hub.port,
            seed=self.seed,
            rates=dict(self.rates),
            max_delay=1.5,
            hold_timeout=2.5,
            on_forward=self._maybe_kill_hub,
        ).start()
        self.workers: dict[str, Worker] = {}
        self._hub_lock = threading.Lock()
        self.backups: list[Path] = []
        self._databases: list = []
        for i in range(self.nodes):
            name = f"node{i}"
            node, _ = support.make_node(self.tmp, name, self.hub, f"第{i + 1}村")
            set_meta(node.data_dir / "node.sqlite3", "hub_url", self.link.url)
            self.workers[name] = Worker(name, node.data_dir, self.link.url, timeout=2.0)
            self.workers[name].start()
            self.confirmed[name] = set()

    # --- faults on the hub -----------------------------------------------------

    def _maybe_kill_hub(self, n: int, kind: str) -> None:
        """Called by the link once a request is on its way in: sometimes cut the hub's power mid-ingest."""
        with self._hub_lock:
            if self.kill_rng.random() >= self.p_hub_kill:
                return
            proc = self.hub.proc
        if proc is None or proc.poll() is not None:
            return
        delay = self.kill_rng.random() * 0.02
        threading.Timer(delay, self._kill_hub, args=(proc,)).start()

    def _kill_hub(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            self.figures["hub SIGKILL mid-request"] += 1

    def ensure_hub(self) -> None:
        """Restart the hub if a kill took it down."""
        with self._hub_lock:
            if self.hub.proc is not None and self.hub.proc.poll() is None:
                return
            if self.hub.proc is not None:
                self.hub.proc.wait(10)
            self.hub.proc = None
            self.hub.start()
            self.figures["hub restarts"] += 1

    def restart_hub(self, sig: int) -> None:
        """Stop the hub with sig between requests and start it again."""
        with self._hub_lock:
            self.hub.stop(sig)
            self.hub.start()
        self.figures["hub restarts"] += 1
        self.figures["hub SIGKILL between requests" if sig == signal.SIGKILL else "hub SIGTERM"] += 1

    def backup_hub(self) -> None:
        """`daiban hub backup` while the hub serves (SQLite online backup / pg_dump)."""
        out = self.hub.cli("backup", "--keep", "1000").stdout
        self.backups.append(Path(out.split("已备份：", 1)[1].strip()))
        self.figures["hub backups"] += 1

    def restore_hub(self) -> None:
        """Replace the hub by one restored from an older backup, on the same address with the same key."""
        backup = self.rng.choice(self.backups)
        with self._hub_lock:
            self.hub.stop(signal.SIGKILL)
            n = self.figures["hub restores from older backups"] + 1
            fresh = self.tmp / f"hub-restored-{n}"
            fresh.mkdir()
            (fresh / "hub_key.pem").write_bytes((self.hub.data_dir / "hub_key.pem").read_bytes())
            os.chmod(fresh / "hub_key.pem", 0o600)
            env: dict[str, str] = {}
            if self.db_url:
                gen = support.pg_database()
                self._databases.append(gen)
                self.db_url = next(gen)
                env = {"DATABASE_URL": self.db_url}
            support.daiban("hub", "restore", str(backup), env={"DAIBAN_HUB_DIR": str(fresh), **env})
            self.hub = support.Service("hub", fresh, self.hub.port, env=env)
            self.hub.start()
        self.figures["hub restores from older backups"] += 1
        self.figures["backups skipped by a restore"] += len(self.backups) - 1 - self.backups.index(backup)

    # --- node steps ---------------------------------------------------------------

    def _note_confirmed(self, name: str, lines: list[str]) -> None:
        for line in lines:
            if line.startswith("ok "):
                self.confirmed[name].add(line.split()[1])

    def _kill_and_revive(self, w: Worker) -> None:
        self._note_confirmed(w.name, w.kill())
        w.start()
        self.figures["node restarts"] += 1

    def capture(self, w: Worker) -> None:
        w.send(f"capture {self.rng.randrange(1 << 30)}")
        if self.rng.random() < self.p_node_kill:
            time.sleep(self.rng.random() * 0.02)
            self._kill_and_revive(w)
            self.figures["node SIGKILL mid-capture"] += 1
            return
        line = w.expect(("ok", "invalid"), 30)
        assert line is not None, f"capture failed on {w.name}: {line}"
        assert line.startswith("ok "), f"capture failed on {w.name}: {line}"
        self.confirmed[w.name].add(line.split()[1])
        self.figures["captures confirmed"] += 1

    def feedback(self, w: Worker) -> None:
        codes = sorted(self.confirmed[w.name])
        if not codes:
            return
        w.send(f"feedback {self.rng.choice(codes)}")
        assert w.expect(("ok",), 30) is not None
        self.figures["feedback events"] += 1

    def sync(self, w: Worker) -> str | None:
        w.send("sync")
        roll = self.rng.random()
        if roll < self.p_node_kill / 2:
            # Aim at the middle of applying a hub answer.
            line = w.expect(("phase apply", "synced", "error"), 120)
            assert line is not None, f"{w.name} sync did not finish"
            if line == "phase apply":
                time.sleep(self.rng.random() * 0.005)
                self._kill_and_revive(w)
                self.figures["node SIGKILL mid-apply"] += 1
                return None
            self.figures["sync rounds ok" if line.startswith("synced") else "sync rounds failed"] += 1
            return line
        elif roll < self.p_node_kill:
            time.sleep(self.rng.random() * 0.3)
            self._kill_and_revive(w)
            self.figures["node SIGKILL mid-sync"] += 1
            return None
        line = w.expect(("synced", "error"), 120)
        assert line is not None, f"{w.name} sync did not finish"
        self.figures["sync rounds ok" if line.startswith("synced") else "sync rounds failed"] += 1
        return line

    def act(self) -> None:
        """A window clerk decides on a case at the hub (the real CLI)."""
        hub_db = self.hub.data_dir / "hub.sqlite3"
        if self.db_url:
            return self._act_pg()
        with sqlite3.connect(hub_db, timeout=30) as conn:
            rows = conn.execute(
                "SELECT receipt_code, state, mode FROM \"case\" WHERE state IN ('received', 'accepted')"
            ).fetchall()
        self._act_on(rows)

    def _act_pg(self) -> None:
        import psycopg

        assert self.db_url is not None
        with psycopg.connect(self.db_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT receipt_code, state, mode FROM \"case\" WHERE state IN ('received', 'accepted')")
            rows = cur.fetchall()
        self._act_on(rows)

    def _act_on(self, rows: list[tuple[str, str, str]]) -> None:
        if not rows:
            return
        code, state, mode = self.rng.choice(sorted(rows))
        action = "accept" if state == "received" and mode != "immediate" else "approve"
        res = self.hub.cli("act", code, action, check=False)
        assert res.returncode == 0, res.stderr
        self.figures[f"hub act {action}"] += 1

    # --- the run --------------------------------------------------------------------

    def run(self, rounds: int) -> None:
        """The seeded stream of captures, syncs, decisions, restarts and kills."""
        names = sorted(self.workers)
        for i in range(rounds):
            self.figures["rounds"] += 1
            self.ensure_hub()
            if self.rng.random() < self.p_backup:
                self.backup_hub()
            due = self.figures["hub restores from older backups"] < self.min_restores and i >= rounds * 3 // 4
            if self.backups and (due or self.rng.random() < self.p_restore):
                self.restore_hub()
                continue
            roll = self.rng.random()
            if roll < self.p_hub_restart:
                self.restart_hub(self.rng.choice([signal.SIGKILL, signal.SIGTERM]))
                continue
            if roll < self.p_hub_restart + self.p_act:
                self.act()
                continue
            w = self.workers[self.rng.choice(names)]
            step = self.rng.random()
            if step < 0.5:
                self.capture(w)
            elif step < 0.55:
                self.feedback(w)
            else:
                self.sync(w)

    def heal_and_converge(self) -> None:
        """Mend the link, keep the hub up, and sync every node until nothing moves."""
        self.link.heal()
        with self._hub_lock:
            self.p_hub_kill = 0.0
        time.sleep(0.1)  # a kill already scheduled by the link fires within 20 ms
        for w in self.workers.values():
            for _attempt in range(10):
                self.ensure_hub()
                line = self._plain_sync(w)
                if line.startswith("synced") and self._settled(w):
                    break
            else:
                raise AssertionError(f"{w.name} did not converge: {line}")
            # The real CLI agrees: one more round through `daiban node sync` changes nothing.
            w.stop()
            self.ensure_hub()
            res = support.daiban("node", "--dir", str(w.data_dir), "sync", check=False)
            assert res.returncode == 0, res.stderr
            w.start()

    def _plain_sync(self, w: Worker) -> str:
        w.send("sync")
        line = w.expect(("synced", "error"), 120)
        assert line is not None
        return line

    def _settled(self, w: Worker) -> bool:
        with sqlite3.connect(w.data_dir / "node.sqlite3") as conn:
            queued = conn.execute("SELECT count(*) FROM event WHERE result IS NULL AND NOT quarantined").fetchone()[0]
            pending = conn.execute("SELECT count(*) FROM batch WHERE state = 'pending'").fetchone()[0]
            rebuilding = conn.execute("SELECT value FROM meta WHERE key = 'reconcile'").fetchone()
        return queued == 0 and pending == 0 and (rebuilding is None or json.loads(rebuilding[0]) is None)

    def stop(self) -> None:
        """Stop every process and the link."""
        for w in self.workers.values():
            if w.alive:
                w.stop()
        self.link.stop()
        self.hub.stop()
        for gen in self._databases:
            gen.close()


# --- checking the promise ---------------------------------------------------------------


def hub_rows(chaos: Chaos, sql: str, args: tuple = ()) -> list[tuple]:
    """Rows from the hub database, whichever engine it runs on."""
    url = chaos.db_url
    if url:
        import psycopg

        with psycopg.connect(url) as pg, pg.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), args)
            return cur.fetchall()
    with sqlite3.connect(chaos.hub.data_dir / "hub.sqlite3", timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


def verify(chaos: Chaos) -> dict[str, int]:
    """Every confirmed request at the hub exactly once; statuses home; chains and cursors agree."""
    totals: Counter[str] = Counter()
    for name, w in chaos.workers.items():
        with sqlite3.connect(w.data_dir / "node.sqlite3") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            meta = read_meta(conn)
            node_codes = {c for (c,) in conn.execute("SELECT receipt_code FROM request WHERE state != 'held'")}
            node_events = sorted(conn.execute("SELECT seq, event_id FROM event WHERE seq IS NOT NULL"))
            unsigned = conn.execute("SELECT count(*) FROM event WHERE seq IS NULL").fetchone()[0]
            updates = sorted(conn.execute("SELECT cseq, request_id, type FROM hubupdate"))
            node_states = dict(conn.execute("SELECT receipt_code, state FROM request"))
        node_id = meta["node_id"]
        ((last_seq, last_hash, out_seq),) = hub_rows(
            chaos, "SELECT last_seq, last_hash, out_seq FROM node WHERE node_id = ?", (node_id,)
        )
        hub_codes = [c for (c,) in hub_rows(chaos, 'SELECT receipt_code FROM "case" WHERE node_id = ?', (node_id,))]
        hub_events = sorted(hub_rows(chaos, "SELECT seq, event_id FROM nodeevent WHERE node_id = ?", (node_id,)))
        refused = hub_rows(
            chaos, "SELECT seq, reason_code FROM nodeevent WHERE node_id = ? AND result != 'ok'", (node_id,)
        )
        hub_log = sorted(hub_rows(chaos, "SELECT cseq, request_id, type FROM hubevent WHERE node_id = ?", (node_id,)))
        hub_states = dict(hub_rows(chaos, 'SELECT receipt_code, state FROM "case" WHERE node_id = ?', (node_id,)))

        confirmed = chaos.confirmed[name]
        assert confirmed <= node_codes, f"{name}: confirmed but gone from the node: {confirmed - node_codes}"
        lost = (node_codes | confirmed) - set(hub_codes)
        duplicated = (
            len(hub_codes) - len(set(hub_codes)) + sum(1 for _, code in refused if code.startswith("duplicate"))
        )
        assert not lost, f"{name}: lost {sorted(lost)}"
        assert duplicated == 0, f"{name}: refused at the hub {refused}"
        assert not refused, f"{name}: refused at the hub {refused}"
        assert set(hub_codes) == node_codes, f"{name}: hub has codes the node never captured"
        assert unsigned == 0
        assert node_events == hub_events, f"{name}: node log and hub log differ"
        assert [s for s, _ in hub_events] == list(range(1, last_seq + 1)), f"{name}: gaps in the hub's log"
        assert (meta["next_seq"] - 1, meta["last_hash"]) == (last_seq, last_hash), f"{name}: chain differs"
        assert meta["cursor"] == out_seq, f"{name}: cursor {meta['cursor']} != hub {out_seq}"
        assert updates == hub_log, f"{name}: hub statuses that did not reach the village"
        assert {c: s for c, s in node_states.items() if c in hub_states} == hub_states, f"{name}: states differ"
        # Content, not only numbers: every entry's body and every request's state and deadline.
        diff = content_diff(hub_query_for(chaos.hub.data_dir, chaos.db_url), w.data_dir / "node.sqlite3")
        assert diff == [], f"{name}: content differs: {diff[:5]}"
        with sqlite3.connect(w.data_dir / "node.sqlite3") as conn:
            totals["decisions the hub forgot, shown to the clerk"] += conn.execute(
                "SELECT count(*) FROM forgottenupdate"
            ).fetchone()[0]
        totals["requests"] += len(node_codes)
        totals["confirmed to the clerk"] += len(confirmed)
        totals["events"] += len(hub_events)
        totals["hub statuses delivered"] += len(hub_log)
        totals["lost"] += len(lost)
        totals["duplicated"] += duplicated
    forks = hub_rows(chaos, "SELECT count(*) FROM forkalert")[0][0]
    assert forks == 0, "an honest node must never be seen as forking"
    return dict(totals)


def report(chaos: Chaos, totals: dict[str, int], seconds: float) -> str:
    """The figures, one per line, for docs/reliability.md."""
    engine = "PostgreSQL" if chaos.db_url else "SQLite"
    lines = [f"seed {chaos.seed}, {chaos.nodes} nodes, hub on {engine}, {seconds:.0f} s"]
    lines += [f"{k}: {v}" for k, v in sorted(chaos.figures.items())]
    lines += [f"link requests: {chaos.link.stats['requests']}"]
    lines += [f"fault {k}: {v}" for k, v in chaos.link.faults_injected().items()]
    lines += [f"{k}: {v}" for k, v in totals.items()]
    return "\n".join(lines)


def run_chaos(tmp: Path, seed: int, nodes: int, rounds: int, **kw: float) -> str:
    """Run, heal, verify; DAIBAN_CHAOS_PG=1 puts the hub on a fresh PostgreSQL database."""
    if os.environ.get("DAIBAN_CHAOS_PG") == "1":
        databases = support.pg_database()
        try:
            return _run_chaos(tmp, seed, nodes, rounds, next(databases), **kw)
        finally:
            databases.close()
    return _run_chaos(tmp, seed, nodes, rounds, None, **kw)


def _run_chaos(tmp: Path, seed: int, nodes: int, rounds: int, db_url: str | None, **kw: float) -> str:
    started = time.monotonic()
    chaos = Chaos(tmp, seed, nodes, QUICK_RATES, db_url=db_url, **kw)  # type: ignore[arg-type]
    try:
        chaos.run(rounds)
        chaos.heal_and_converge()
        totals = verify(chaos)
        text = report(chaos, totals, time.monotonic() - started)
        assert totals["lost"] == 0
        assert totals["duplicated"] == 0
        assert sum(chaos.link.faults_injected().values()) > 0, "the link never failed: nothing was tested"
        return text
    except BaseException:
        print(
            f"\nchaos failed with seed {seed}; replay with DAIBAN_CHAOS_SEED={seed}\nlink log tail: "
            f"{chaos.link.log[-20:]}\nfigures: {dict(chaos.figures)}",
            file=sys.stderr,
        )
        raise
    finally:
        chaos.stop()


def test_chaos_quick(tmp_path: Path) -> None:
    """Two nodes, a bad link, node and hub kills: nothing lost, doubled or out of step."""
    seed = int(os.environ.get("DAIBAN_CHAOS_SEED", "20261126"))
    text = run_chaos(
        tmp_path,
        seed,
        nodes=2,
        rounds=int(os.environ.get("DAIBAN_CHAOS_QUICK_ROUNDS", "50")),
        p_hub_kill=0.03,
        p_hub_restart=0.02,
        p_act=0.1,
        p_backup=0.08,
        p_restore=0.02,
        min_restores=1,
    )
    print("\n" + text)


@pytest.mark.slow
def test_chaos_long(tmp_path: Path) -> None:
    """Thousands of rounds (DAIBAN_CHAOS_ROUNDS); prints the figures for docs/reliability.md."""
    seed = int(os.environ.get("DAIBAN_CHAOS_SEED", str(int(time.time()))))
    rounds = int(os.environ.get("DAIBAN_CHAOS_ROUNDS", "2000"))
    text = run_chaos(
        tmp_path,
        seed,
        nodes=int(os.environ.get("DAIBAN_CHAOS_NODES", "4")),
        rounds=rounds,
        p_hub_kill=0.01,
        p_hub_restart=0.005,
        p_act=0.06,
        p_backup=0.02,
        p_restore=float(os.environ.get("DAIBAN_CHAOS_P_RESTORE", "0.004")),
        min_restores=1,
    )
    print("\n=== chaos figures ===\n" + text)


def test_faultlink_faults_against_real_hub(tmp_path: Path) -> None:
    """Each fault does what it says, seen from a plain HTTP client."""
    hub = support.make_hub(tmp_path).start()
    try:
        with FaultLink(hub.port, seed=1, max_delay=0.1) as link:
            url = link.url + "/healthz"
            assert requests.get(url, timeout=5).status_code == 200
            link.plan("drop_before")
            with pytest.raises(requests.ConnectionError):
                requests.get(url, timeout=5)
            link.plan("unavailable", "bad_gateway")
            assert requests.get(url, timeout=5).status_code == 503
            assert requests.get(url, timeout=5).status_code == 502
            link.plan("hang")
            with pytest.raises(requests.Timeout):
                requests.get(url, timeout=0.5)
            link.plan("truncate_response")
            with pytest.raises(requests.RequestException):
                r = requests.get(url, timeout=5)
                r.json()
            link.plan("duplicate", "delay", "throttle")
            for _ in range(3):
                assert requests.get(url, timeout=5).json()["status"] == "ok"
            assert link.faults_injected() == {
                k: 1 for k in FAULTS if k not in ("drop_after", "truncate_request", "reorder")
            }
    finally:
        hub.stop()
