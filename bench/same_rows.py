"""Do two checkouts' hubs store the same rows and give the same answers for the same signed batches?

    .venv/bin/python -m bench.same_rows /work/base            # that checkout against this one
    .venv/bin/python -m bench.same_rows /work/base --pg       # the same on PostgreSQL

One enrolled SQLite hub is made (with this checkout), and signed batches of 200 captures are
made for it: the ingest bench's own captures, some spoilt on purpose (an unknown item, a bad ID
number, a foreign receipt code, a phone to clean, no applicant, a bad field, a second
application of one person), one batch sent twice. Each checkout's hub then ingests them, each
into its own copy of that hub, in its own process, with the hub's clock replaced by one counter
(every `now()` the next microsecond from one instant) so both stamp the same times. Prints which
tables differ (every row, every column; of the sync counter, the count per status: its
latency buckets are measured times) and whether every answer is the same bytes; exits 1 if
anything differs. A performance pass proves "nothing changed but the time" with it.

With `--pg` the hub is a fresh PostgreSQL database (tests/support.py's server) and each checkout's
copy a database made from it as a template; rows are compared table by table, sorted by every column.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BATCHES, SIZE = 6, 200


def _spoil(events: list[dict[str, Any]], rng: random.Random) -> None:
    """Some captures every way the hub refuses or cleans one, and a person applying twice."""
    for i, ev in enumerate(events):
        data = ev["data"]
        kind = i % 23
        if kind == 1:
            data["item_code"] = "NO-SUCH-ITEM"
        elif kind == 3:
            data["applicant"]["id_number"] = data["applicant"]["id_number"][:17] + "0"
        elif kind == 5:
            data["receipt_code"] = "ZZZZZZZZZ"
        elif kind == 7:
            phone = data["applicant"]["phone"]
            data["applicant"]["phone"] = f"+86 {phone[:3]}-{phone[3:7]} {phone[7:]}"
        elif kind == 9:
            data.pop("applicant")
        elif kind == 11:
            data["fields"] = {key: "x" * 300 for key in data.get("fields", {})} or {"a": 1}
        elif kind == 13 and i > 0:
            data["applicant"] = dict(events[i - 1]["data"].get("applicant") or data["applicant"])
            data["item_code"] = events[i - 1]["data"]["item_code"]
        elif kind == 15:
            data["applicant"]["id_number"] = data["applicant"]["id_number"].lower()
        elif kind == 17:
            data["materials"] = {"brought": [], "missing": []}
            data["submit"] = "awaiting_materials"
        elif kind == 19:
            data["notes"] = "\u0007" + str(data.get("notes", ""))


def make(work: Path) -> None:
    """The enrolled hub (work/hub: database, keys) and the signed batches (work/batches.json)."""
    from bench import workload
    from bench.profile_ingest import enrolled_node
    from hub import restores
    from hub.db import database
    from shared import protocol

    _, key, body = enrolled_node(_url(work, "hub"), str(work / "hub"), "比对村")
    with database.connection_context():
        restores.current_epoch()  # drawn at random on first use: drawn here, so both copies hold it
    database.close()
    rng, seq, last, out = random.Random(7), 0, protocol.GENESIS_HASH, []
    for _ in range(BATCHES):
        events = workload.wire_events(rng, body["prefix"], seq + 1, SIZE)
        _spoil(events, rng)
        batch = protocol.batch_body(body["node_id"], events, last, seq, catalogue_version=1, app_version="bench")
        out.append(zlib.compress(protocol.seal(key, batch)).hex())
        seq, last = batch["last_seq"], protocol.body_hash(batch)
    out.insert(3, out[2])  # a batch sent again: the stored ack, nothing written
    (work / "batches.json").write_text(json.dumps(out))


def _url(work: Path, copy: str) -> str:
    """The database of `copy` (hub, before, after): work/pg.json names PostgreSQL's, else SQLite files."""
    if (work / "pg.json").exists():
        return str(json.loads((work / "pg.json").read_text())[copy])
    return f"sqlite:///{work / copy / 'hub.sqlite3'}"


def _pg_copies(url: str, copies: tuple[str, ...]) -> dict[str, str]:
    """Databases made from the hub's PostgreSQL database (its template) for each copy: {name: URL}."""
    import psycopg

    source = urlsplit(url).path.lstrip("/")
    urls = {}
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        for copy in copies:
            name = f"{source}_{copy}"
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')  # nosec B608: names made here
            urls[copy] = url.rsplit("/", 1)[0] + "/" + name
    return urls


def _drop_pg(urls: list[str]) -> None:
    import psycopg

    with psycopg.connect(urls[0].rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        for url in urls:
            conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')  # nosec B608


def ingest(work: Path, tree: str, copy: str) -> None:
    """In this process (its hub imported from `tree`): ingest the batches into work/copy; write the answers."""
    sys.path.insert(0, tree)
    import datetime as dt

    from hub import clock, create_app
    from hub.db import database
    from shared import protocol

    start, tick = dt.datetime(2026, 12, 1, 2, 0, 0), [0]

    def counted() -> dt.datetime:
        tick[0] += 1
        return start + dt.timedelta(microseconds=tick[0])

    app = create_app(
        {"TESTING": True, "DATA_DIR": str(work / copy), "DATABASE_URL": _url(work, copy), "SECRET_KEY": "x"}
    )
    real = clock.now
    for name, module in list(sys.modules.items()):
        if name.startswith("hub") and getattr(module, "now", None) is real:
            module.now = counted  # type: ignore[attr-defined]
    protocol.utcnow = lambda: counted().replace(tzinfo=dt.UTC)  # the answer's hub_time
    client, answers = app.test_client(), []
    for raw in json.loads((work / "batches.json").read_text()):
        resp = client.post(
            "/api/v1/sync",
            data=bytes.fromhex(raw),
            content_type="application/json",
            headers={"Content-Encoding": "deflate", "Accept-Encoding": "identity"},
        )
        answers.append([resp.status_code, resp.data.hex()])
    database.close()
    (work / f"{copy}.answers.json").write_text(json.dumps(answers))


# Tables whose rows hold measured times (latency buckets and sums), compared by what this query
# reads instead: the count per status.
SUMMARISED = {"syncstat": "SELECT status, SUM(count) FROM syncstat GROUP BY status ORDER BY status"}


def rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in rowid order (or by all columns for a table without rowid)."""
    import sqlite3

    con = sqlite3.connect(db)
    tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    out = {}
    for table in tables:
        if table in SUMMARISED:
            out[table] = con.execute(SUMMARISED[table]).fetchall()
            continue
        try:
            out[table] = con.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()  # nosec B608
        except sqlite3.OperationalError:
            out[table] = sorted(con.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)  # nosec B608
    con.close()
    return out


def pg_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a PostgreSQL database, sorted by all its columns."""
    import psycopg

    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        for (table,) in tables:
            if table in SUMMARISED:
                out[table] = conn.execute(SUMMARISED[table]).fetchall()
                continue
            out[table] = sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)  # nosec B608
    return out


def main() -> int:
    """Both checkouts ingest the same batches into copies of one hub; 0 when rows and answers are the same."""
    if len(sys.argv) == 4 and sys.argv[1] == "--ingest":
        ingest(Path(sys.argv[2]), *sys.argv[3].split(":", 1))
        return 0
    other = str(Path(sys.argv[1]).resolve())
    work = Path(tempfile.mkdtemp(prefix="same-rows-"))
    if "--pg" not in sys.argv[2:]:
        make(work)
        return _compare(work, other)
    from bench.harness import pg_database

    with pg_database() as url:
        if not url:
            sys.exit("no PostgreSQL server answers")
        (work / "pg.json").write_text(json.dumps({"hub": url}))
        make(work)
        urls = {"hub": url, **_pg_copies(url, ("before", "after"))}
        (work / "pg.json").write_text(json.dumps(urls))
        try:
            return _compare(work, other)
        finally:
            _drop_pg([urls["before"], urls["after"]])


def _compare(work: Path, other: str) -> int:
    for copy, tree in (("before", other), ("after", str(ROOT))):
        shutil.copytree(work / "hub", work / copy)
        subprocess.run(  # nosec B603: this interpreter, this file, paths made here
            [sys.executable, __file__, "--ingest", str(work), f"{tree}:{copy}"], check=True, cwd=tree
        )
    if (work / "pg.json").exists():
        before, after = pg_rows(_url(work, "before")), pg_rows(_url(work, "after"))
    else:
        before, after = rows(work / "before" / "hub.sqlite3"), rows(work / "after" / "hub.sqlite3")
    differ = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    same_answers = (work / "before.answers.json").read_text() == (work / "after.answers.json").read_text()
    counted = {t: len(r) for t, r in after.items() if r}
    print(json.dumps({"tables_differ": differ, "answers_same": same_answers, "rows": counted}, ensure_ascii=False))
    return 0 if not differ and same_answers else 1


if __name__ == "__main__":
    sys.path[0] = str(ROOT)
    sys.exit(main())
