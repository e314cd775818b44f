"""A PostgreSQL primary and a streaming standby of the suite's own, for failover tests and the bench.

Debian's binaries (initdb, pg_basebackup -R, pg_ctl) on free ports in temp dirs, run as the
`postgres` user when we are root, like tests/support.py's throwaway cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import support


@dataclass
class Pair:
    """A primary cluster and a streaming standby made from it with pg_basebackup -R."""

    primary: support.PgCluster
    standby: support.PgCluster

    def multi_url(self, db: str) -> str:
        """The hub's URL: both servers, libpq picks the one that takes writes."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}/{db}"
            "?target_session_attrs=read-write"
        )

    def url(self, cluster: support.PgCluster, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{cluster.port}/{db}"

    def postmaster_pid(self, cluster: support.PgCluster) -> int:
        return int((cluster.datadir / "data" / "postmaster.pid").read_text().splitlines()[0])

    def cut_replication(self) -> None:
        """Stop the standby receiving WAL: what the primary commits from now on, the standby lacks."""
        conf = self.standby.datadir / "data" / "postgresql.auto.conf"
        with conf.open("a") as fh:
            fh.write("primary_conninfo = ''\n")
        self.standby.pg_ctl("reload")
        poll(lambda: not rows(self.url(self.standby, "postgres"), "SELECT pid FROM pg_stat_wal_receiver"))

    def kill_primary(self) -> None:
        """kill -9 the primary's postmaster and its backends: the database server is gone."""
        pid = self.postmaster_pid(self.primary)
        os.kill(pid, signal.SIGKILL)
        # The backends lose their postmaster and stop; make sure none lingers on the port.
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if f"PPid:\t{pid}\n" in (proc / "status").read_text():
                        os.kill(int(proc.name), signal.SIGKILL)
                except (OSError, ValueError):
                    pass

    def promote(self) -> None:
        self.standby.pg_ctl("-w", "promote")

    def set_synchronous(self, level: str | None) -> None:
        """Commit waits for the standby at synchronous_commit=level ('on', 'remote_apply'), or not (None)."""
        names = "standby" if level else ""
        sql(
            self.primary.admin_url,
            f"ALTER SYSTEM SET synchronous_standby_names = '{names}'",
            f"ALTER SYSTEM SET synchronous_commit = '{level or 'on'}'",
            "SELECT pg_reload_conf()",
        )
        want = "sync" if level else "async"
        poll(lambda: rows(self.primary.admin_url, "SELECT sync_state FROM pg_stat_replication") == [(want,)])

    def stop(self) -> None:
        self.standby.stop()
        self.primary.stop()


def start_pair(synchronous: bool = False, fsync: bool = False) -> Pair:
    """A primary and its standby on free ports, run as `postgres` when root.

    fsync off (as the suite's throwaway cluster) unless a bench needs a commit's real cost.
    """
    primary = support.start_pg_cluster()
    if fsync:
        # The throwaway cluster starts with fsync off on its command line; restart it with it on.
        primary.serve("restart", fsync=True)
    datadir = Path(tempfile.mkdtemp(prefix="daiban-pg-standby-"))
    shutil.chown(datadir, *owner(primary.datadir))
    standby = support.PgCluster(primary.bindir, datadir, support.free_port(), primary.runas)
    try:
        standby._run(
            str(primary.bindir / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(datadir / "data"),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        )
        standby.serve("start", fsync=fsync, settings="-c cluster_name=standby")
        poll(lambda: rows(primary.admin_url, "SELECT state FROM pg_stat_replication") == [("streaming",)])
        pair = Pair(primary, standby)
        if synchronous:
            pair.set_synchronous("on")
    except BaseException:
        standby.stop()
        primary.stop()
        raise
    return pair


def owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def rows(url: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    conn = psycopg.connect(url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def sql(url: str, *statements: str) -> None:
    import psycopg

    conn = psycopg.connect(url, connect_timeout=5, autocommit=True)
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()


def poll(condition: Any, timeout: float = 60.0) -> None:
    support.poll(condition, timeout)
