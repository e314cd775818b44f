"""SQLite writers of the hub take turns (hub/db.py `_WriterTurn`): none is lost, doubled or left waiting."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from hub.db import HubSqliteDatabase, open_database

THREADS = 3
TRANSACTIONS = 15


def _open(db_file: Path) -> HubSqliteDatabase:
    db = open_database(f"sqlite:///{db_file}")
    assert isinstance(db, HubSqliteDatabase)
    return db


def _write(db_file: Path, who: str) -> None:
    """THREADS threads, each TRANSACTIONS two-row transactions; every third one fails after its first row."""
    db = _open(db_file)

    def thread(t: int) -> None:
        for i in range(TRANSACTIONS):
            try:
                with db.atomic():
                    db.execute_sql("INSERT INTO row (key) VALUES (?)", (f"{who}-{t}-{i}-a",))
                    if i % 3 == 2:
                        raise RuntimeError("the batch failed half way")
                    db.execute_sql("INSERT INTO row (key) VALUES (?)", (f"{who}-{t}-{i}-b",))
            except RuntimeError:
                pass
        db.close()

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _free_to_another_process(path: str) -> bool:
    """Whether another process could take the turn now (record locks do not conflict within one process)."""

    def probe(q: multiprocessing.Queue) -> None:
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            q.put(True)
        except OSError:
            q.put(False)

    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=probe, args=(q,))
    p.start()
    p.join(30)
    return bool(q.get(timeout=5))


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    db_file = tmp_path / "hub.sqlite3"
    db = _open(db_file)
    db.execute_sql("CREATE TABLE row (key TEXT UNIQUE NOT NULL)")
    db.close()
    return db_file


def test_writers_of_several_processes_and_threads_each_commit_once(db_file: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write, args=(db_file, f"p{n}")) for n in range(2)]
    for p in procs:
        p.start()
    _write(db_file, "here")
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    db = _open(db_file)
    keys = [k for (k,) in db.execute_sql("SELECT key FROM row").fetchall()]
    db.close()
    expected = {
        f"{who}-{t}-{i}-{part}"
        for who in ("p0", "p1", "here")
        for t in range(THREADS)
        for i in range(TRANSACTIONS)
        if i % 3 != 2  # failed half way: neither row
        for part in "ab"
    }
    assert len(keys) == len(set(keys))
    assert set(keys) == expected


def test_a_failed_or_abandoned_transaction_gives_its_turn_back(db_file: Path) -> None:
    db = _open(db_file)
    turn_file = f"{os.path.realpath(db_file)}-writer"
    with pytest.raises(RuntimeError):
        with db.atomic():
            db.execute_sql("INSERT INTO row (key) VALUES ('x')")
            raise RuntimeError
    assert _free_to_another_process(turn_file)
    db.begin()
    assert not _free_to_another_process(turn_file)
    db.close()  # a connection closed in a transaction rolls it back
    assert _free_to_another_process(turn_file)
    db.connect()
    assert db.execute_sql("SELECT COUNT(*) FROM row").fetchone()[0] == 0
    db.close()


def test_a_writer_that_died_in_its_turn_does_not_hold_up_the_next(db_file: Path) -> None:
    def die_holding(path: Path) -> None:
        db = _open(path)
        db.begin()
        db.execute_sql("INSERT INTO row (key) VALUES ('never')")
        os._exit(0)

    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=die_holding, args=(db_file,))
    p.start()
    p.join(30)
    db = _open(db_file)
    with db.atomic():
        db.execute_sql("INSERT INTO row (key) VALUES ('next')")
    assert [k for (k,) in db.execute_sql("SELECT key FROM row").fetchall()] == ["next"]
    turn = db._turn
    assert turn is not None
    assert turn.take()  # free at once, not after the 30 s wait
    turn.give()
    db.close()
