"""The SQLite set-up the what-if scripts here share: a hub filled by a bench ingest, its rows read out
to re-insert, and new databases to re-insert them into, committed as the hub commits.

The scripts import it from their own directory (`from ingested import …`), as `cachegrind`; they put
the tree they are run from first on the path themselves, before `ingest` imports its hub/ and shared/.
"""

import sqlite3
import tempfile

BATCH = 200  # captures per synced batch of the ingest; rows per transaction of a re-insert
DURABLE = ("journal_mode=wal", "synchronous=full")  # as the hub commits (hub.db.SQLITE_PRAGMAS)
FIXED = ("village", "node")  # the rows a synced batch's rows refer to


def ingest(events: int) -> tuple[str, int]:
    """The file of a new SQLite hub after bench.profile_ingest's ingest of `events` captures in batches
    of BATCH, and the ingest's events per CPU second."""
    from bench.profile_ingest import ingest_cpu

    path = f"{tempfile.mkdtemp()}/hub.sqlite3"
    rate, _ = ingest_cpu(f"sqlite:///{path}", BATCH, events, False)
    return path, rate


def table_rows(db: sqlite3.Connection, table: str) -> tuple[list[str], list[tuple]]:
    """A table's columns but `id` (a re-insert numbers them anew) and its rows of them, in rowid order."""
    columns = [r[1] for r in db.execute(f'pragma table_info("{table}")') if r[1] != "id"]
    rows = db.execute(f'select {_quoted(columns)} from "{table}" order by rowid').fetchall()  # nosec B608
    return columns, rows


def insert_rows(db: sqlite3.Connection, table: str) -> tuple[str, list[tuple]]:
    """The INSERT that puts a table's rows back (`table_rows`), and those rows."""
    columns, rows = table_rows(db, table)
    return insert_sql(table, columns), rows


def _quoted(columns: list[str]) -> str:
    return ",".join(f'"{c}"' for c in columns)


def insert_sql(table: str, columns: list[str], marks: list[str] | None = None) -> str:
    """INSERT of `columns` into `table`; `marks`: each value's placeholder (default `?`)."""
    return f'insert into "{table}" ({_quoted(columns)}) values ({",".join(marks or ["?"] * len(columns))})'  # nosec B608


def schema(db: sqlite3.Connection, *tables: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the tables and their indexes, the tables first."""
    marks = ",".join("?" * len(tables))
    return db.execute(
        f"select name, sql from sqlite_master where tbl_name in ({marks}) and sql is not null order by type desc",  # nosec B608
        tables,
    ).fetchall()


def fixed_rows(db: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every row of the FIXED tables, every column: what a re-insert into an empty schema needs first."""
    return {tb: db.execute(f'select * from "{tb}"').fetchall() for tb in FIXED}  # nosec B608


def put_rows(db: sqlite3.Connection, rows_by_table: dict[str, list[tuple]]) -> None:
    """Rows of every column (`fixed_rows`) inserted as they are."""
    for tb, rows in rows_by_table.items():
        db.executemany(f'insert into "{tb}" values ({",".join("?" * len(rows[0]))})', rows)  # nosec B608


def opened(path: str, *pragmas: str) -> sqlite3.Connection:
    """The database at `path` in autocommit (the caller begins and commits), `pragmas` set in order."""
    db = sqlite3.connect(path, isolation_level=None)
    for p in pragmas:
        db.execute(f"pragma {p}")
    return db


def empty_db(*pragmas: str) -> sqlite3.Connection:
    """A new database in a directory of its own (`opened`)."""
    return opened(f"{tempfile.mkdtemp()}/x.db", *pragmas)


def shares(tables: list[tuple[str, list[tuple]]]) -> tuple[int, list[int]]:
    """How `reinsert` splits the tables' rows: as many batches as the first table has of BATCH rows,
    and each table's rows per batch."""
    batches = -(-len(tables[0][1]) // BATCH)
    return batches, [-(-len(rows) // batches) for _, rows in tables]


def reinsert(db: sqlite3.Connection, tables: list[tuple[str, list[tuple]]]) -> None:
    """Each table's rows (INSERT, rows) put back a batch (`shares`) per transaction, every table's
    share of the batch in it, as a synced batch writes them."""
    batches, per = shares(tables)
    for b in range(batches):
        db.execute("begin")
        for (ins, rows), share in zip(tables, per):
            db.executemany(ins, rows[b * share : (b + 1) * share])
        db.execute("commit")
