"""The one bulk-row helper (shared/bulk_rows): rows of one batch that set different fields."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import peewee
import pytest

from shared.bulk_rows import DatesPrinted, Encoder, TextBytes, _can_copy, aligned, bound_rows, existing, insert_rows


def test_rows_setting_different_fields_get_the_defaults_of_those_they_leave_out() -> None:
    db = peewee.SqliteDatabase(":memory:")

    class Case(peewee.Model):
        code = peewee.TextField(primary_key=True)
        asks = peewee.IntegerField(default=0)
        asked_on = peewee.DateField(null=True)
        tags = peewee.TextField(default=lambda: "none")

        class Meta:
            database = db

    db.create_tables([Case])
    rows: list[dict[str, Any]] = [{"code": "A", "asks": 1, "asked_on": date(2026, 11, 30)}, {"code": "B"}]
    names, values = aligned(Case, rows)
    assert names == ["code", "asks", "asked_on", "tags"]  # what any row sets, then what has a default
    assert values == [("A", 1, date(2026, 11, 30), "none"), ("B", 0, None, "none")]
    insert_rows(db.cursor(), Case, names, values)
    stored = {c.code: (c.asks, c.asked_on, c.tags) for c in Case.select()}
    assert stored == {"A": (1, date(2026, 11, 30), "none"), "B": (0, None, "none")}
    assert sorted(existing(Case.code, ["B", "C", "B", None])) == ["B"]


def test_rows_of_one_template_keep_their_order_and_still_get_defaults_they_leave_out() -> None:
    class Case(peewee.Model):
        code = peewee.TextField(primary_key=True)
        asks = peewee.IntegerField(default=0)
        tags = peewee.TextField(default=lambda: "none")

        class Meta:
            database = peewee.SqliteDatabase(":memory:")

    same = [{"tags": "t", "code": "A", "asks": 1}, {"tags": "u", "code": "B", "asks": 2}]
    assert aligned(Case, same) == (["tags", "code", "asks"], [("t", "A", 1), ("u", "B", 2)])
    # The same keys in each row, but a defaulted field left out: it is still filled in.
    assert aligned(Case, [{"code": "A"}, {"code": "B"}]) == (
        ["code", "asks", "tags"],
        [("A", 0, "none"), ("B", 0, "none")],
    )
    # The same keys in another order: each row's values still go to their own columns.
    assert aligned(Case, [same[0], {"code": "C", "asks": 3, "tags": "v"}])[1] == [("t", "A", 1), ("v", "C", 3)]


@pytest.fixture
def db(pg_url: str) -> Iterator[peewee.PostgresqlDatabase]:
    """A peewee database on the test's own PostgreSQL database, closed after even when the test fails."""
    db = peewee.PostgresqlDatabase(pg_url, prefer_psycopg3=True)
    yield db
    db.close()


def _pg_models(db: peewee.Database) -> tuple[Any, Any]:
    """Two tables of the same columns: one written by insert_rows, one by peewee's own INSERT."""

    class Row(peewee.Model):
        code = peewee.CharField(primary_key=True)
        n = peewee.IntegerField(null=True)
        big = peewee.BigIntegerField(null=True)
        flag = peewee.BooleanField(null=True)
        on = peewee.DateField(null=True)
        at = peewee.DateTimeField(null=True)
        text = peewee.TextField(null=True)

        class Meta:
            database = db
            table_name = "bulk_row"

    class Same(Row):
        class Meta:
            table_name = "bulk_same"

    db.create_tables([Row, Same])
    return Row, Same


# Text COPY escapes (tab, newline, backslash, "\N", an empty string beside a null), and each type.
TRICKY: list[dict[str, Any]] = [
    {"code": "a\tb", "n": -1, "big": 2**40, "flag": True, "on": date(2026, 2, 28), "text": "x\ny\r\\z"},
    {"code": "\\N", "n": 0, "flag": False, "at": datetime(2026, 11, 30, 8, 1, 2, 345678), "text": ""},
    {"code": "村民 \u2028 \U0001f600", "text": None, "at": datetime(2026, 1, 1)},
]


def test_postgres_rows_go_by_copy_and_are_stored_as_an_insert_stores_them(
    db: peewee.PostgresqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    Row, Same = _pg_models(db)
    names, values = aligned(Row, TRICKY)
    statements: list[str] = []
    copy = psycopg.Cursor.copy
    ours = db.connection()

    def watched_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if self.connection is ours:  # not the suite's background drops of other tests' databases
            statements.append(str(statement))
        return copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", watched_copy)
    with db.atomic():
        insert_rows(db.cursor(), Row, names, values, mark="%s")
        for row in TRICKY:
            Same.create(**row)
    assert len(statements) == 1  # the rows of insert_rows, not peewee's own INSERTs
    assert statements[0].startswith('COPY "bulk_row"')
    assert statements[0].endswith("(FORMAT BINARY)")  # every value of a type whose binary form is the column's
    columns = [getattr(Row, n) for n in Row._meta.sorted_field_names]
    by_copy = sorted(Row.select(*columns).tuples())
    by_insert = sorted(Same.select(*[getattr(Same, c.name) for c in columns]).tuples())
    assert by_copy == by_insert
    assert len(by_copy) == 3
    # Plain INSERT semantics: a duplicate fails the same way.
    with pytest.raises(psycopg.errors.UniqueViolation), db.atomic():
        insert_rows(db.cursor(), Row, names, values[:2], mark="%s")
    assert len(statements) == 2
    # One row goes by INSERT (one round trip; COPY takes two), stored alike.
    with db.atomic():
        insert_rows(db.cursor(), Row, names, [("one", *values[0][1:])], mark="%s")
        Same.create(**{**TRICKY[0], "code": "one"})
    assert len(statements) == 2
    assert Row.select(*columns).where(Row.code == "one").tuples().get() == (
        Same.select(*[getattr(Same, c.name) for c in columns]).where(Same.code == "one").tuples().get()
    )
    with pytest.raises(psycopg.errors.UniqueViolation), db.atomic():
        insert_rows(db.cursor(), Row, names, values[:1], mark="%s")


def test_postgres_rows_copy_cannot_store_alike_go_by_insert(db: peewee.PostgresqlDatabase) -> None:
    Row, _ = _pg_models(db)
    zoned = datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    cursor = db.cursor()
    # A datetime with a zone, and an int in a text column: not by COPY (its text could be read otherwise).
    for row in ({"code": "z", "at": zoned}, {"code": "i", "text": 7}):
        assert not _can_copy(cursor, Row, list(row), [tuple(row.values())])
    assert _can_copy(cursor, Row, ["code", "n"], [("c", 1)])
    assert not _can_copy(sqlite3.connect(":memory:").cursor(), Row, ["code"], [("c",)])
    with db.atomic():
        db.execute_sql("SET LOCAL TIME ZONE 'UTC'")
        insert_rows(db.cursor(), Row, ["code", "at"], [("z", zoned)], mark="%s")
        assert Row.get(Row.code == "z").at == datetime(2026, 11, 30, 0, 0)  # converted, not cut


def _copies_watched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements of every COPY psycopg opens from now on, in order."""
    import psycopg

    statements: list[str] = []
    copy = psycopg.Cursor.copy

    def watched_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(statement))
        return copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", watched_copy)
    return statements


def test_postgres_rows_go_by_text_copy_when_a_value_has_no_binary_form_of_its_column(
    db: peewee.PostgresqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    Row, Same = _pg_models(db)
    statements = _copies_watched(monkeypatch)
    # A day an encoder gives as its text: the server reads that text by the column's type.
    rows: list[dict[str, Any]] = [{"code": "a", "on": date(2026, 2, 28), "n": 7}, {"code": "b", "on": None, "n": None}]
    names, values = aligned(Row, rows)
    as_text = Encoder(lambda day: None if day is None else day.isoformat())
    with db.atomic():
        insert_rows(
            db.cursor(), Row, names, values, mark="%s", encoder_for=lambda f: as_text if f.name == "on" else None
        )
        for row in rows:
            Same.create(**row)
    assert statements == ['COPY "bulk_row" ("code", "on", "n") FROM STDIN']
    assert sorted(Row.select(Row.code, Row.on, Row.n).tuples()) == sorted(
        Same.select(Same.code, Same.on, Same.n).tuples()
    )
    assert Row.get(Row.code == "a").on == date(2026, 2, 28)


def test_postgres_existing_finds_the_held_values_of_any_text_in_one_statement(
    db: peewee.PostgresqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    Row, _ = _pg_models(db)
    # Text an array literal would have to quote: commas, braces, quotes, backslash, the word NULL.
    held = ["a,b", "{x}", '"q"', "back\\slash", "NULL", "", "村民"] + [f"r{i}" for i in range(1200)]
    with db.atomic():
        insert_rows(db.cursor(), Row, ["code"], [(c,) for c in held], mark="%s")
    asked = held + ["missing", "null", "{x", None, "a,b"]
    statements: list[str] = []
    execute = psycopg.Cursor.execute
    ours = db.connection()

    def watched(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if self.connection is ours:  # not the suite's background drops of other tests' databases
            statements.append(str(statement))
        return execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", watched)
    assert sorted(existing(Row.code, asked)) == sorted(held)
    assert len(statements) == 1  # 1,200 values and more: still one statement, not one per chunk
    assert existing(Row.code, [None]) == []
    assert len(statements) == 1  # nothing to ask: no statement


def test_sqlite_stores_what_peewee_stores_for_keys_json_text_and_dates_bound_without_a_call() -> None:
    """Foreign keys and encoded JSON bound as they are, dates and date-times as sqlite3's adapters' text:
    every column reads back byte for byte as Model.create stored it."""
    db = peewee.SqliteDatabase(":memory:")

    class Owner(peewee.Model):
        key = peewee.CharField(primary_key=True)

        class Meta:
            database = db

    class Text(str):
        pass

    def encode(value: Any) -> Any:
        return value if value is None or isinstance(value, Text) else f"<{value}>"

    body = Encoder(encode, keeps=frozenset({Text, type(None)}))

    class Row(peewee.Model):
        owner = peewee.ForeignKeyField(Owner)
        body = peewee.TextField()
        on = peewee.DateField(null=True)
        at = peewee.DateTimeField()
        stamped = peewee.DateTimeField(null=True)

        class Meta:
            database = db

    db.create_tables([Owner, Row])
    Owner.create(key="k")
    day, moment = date(2026, 11, 30), datetime(2026, 11, 30, 8, 1, 2, 345678)
    rows = [
        ("k", Text('{"a":1}'), day, moment, None),
        ("k", Text("[]"), None, datetime(2026, 1, 1), moment.replace(tzinfo=timezone(timedelta(hours=8)))),
        ("k", Text("{}"), day, moment, moment),
        ("k", Text("{}"), day, moment, moment.replace(hour=0, tzinfo=timezone.utc)),  # equal to the +08:00 one
    ]
    names = ("owner", "body", "on", "at", "stamped")
    table, _, params = bound_rows(Row, names, rows, lambda f: body if f.name == "body" else None, True)
    assert all(type(v) in (str, Text, type(None)) for row in params for v in row)  # nothing left for an adapter
    insert_rows(db.cursor(), Row, names, rows, encoder_for=lambda f: body if f.name == "body" else None)
    for values in rows:
        Row.create(**dict(zip(names, values)))
    stored = db.execute_sql('SELECT "owner_id", "body", "on", "at", "stamped" FROM "row" ORDER BY "id"').fetchall()
    assert stored[:4] == stored[4:]
    assert [row[4] for row in stored[1:4:2]] == ["2026-11-30 08:01:02.345678+08:00", "2026-11-30 00:01:02.345678+00:00"]


def test_a_column_of_kept_types_is_bound_without_calling_its_encoder() -> None:
    """Encoder.keeps: a column holding only those types is bound as it is; any other value is encoded."""
    db = peewee.SqliteDatabase(":memory:")

    class Note(peewee.Model):
        body = peewee.TextField(null=True)

        class Meta:
            database = db

    calls: list[Any] = []

    def encode(value: Any) -> Any:
        calls.append(value)
        return value if value is None or isinstance(value, Kept) else f"<{value}>"

    class Kept(str):
        pass

    body = Encoder(encode, keeps=frozenset({Kept, type(None)}))
    _, _, params = bound_rows(Note, ("body",), [(Kept("a"),), (None,)], lambda f: body)
    assert (params, calls) == ([("a",), (None,)], [])
    _, _, params = bound_rows(Note, ("body",), [(Kept("a"),), ("b",)], lambda f: body)
    assert (params, calls) == ([("a",), ("<b>",)], ["a", "b"])


# Text given as its UTF-8 bytes (TextBytes): non-ASCII, an empty text, a null beside it, and a str in the same column.
AS_BYTES = ['村民 \u2028 \U0001f600 "x"', "", None, "plain"]


def _text_rows() -> list[tuple[Any, ...]]:
    return [(str(i), None if t is None else TextBytes(t.encode()) if i % 2 == 0 else t) for i, t in enumerate(AS_BYTES)]


def test_sqlite_stores_text_bytes_as_the_text_they_are() -> None:
    db = peewee.SqliteDatabase(":memory:")

    class Doc(peewee.Model):
        code = peewee.TextField(primary_key=True)
        body = peewee.TextField(null=True)

        class Meta:
            database = db

    db.create_tables([Doc])
    insert_rows(db.cursor(), Doc, ["code", "body"], _text_rows())
    # Stored as text (not a BLOB), the same characters, read back as str.
    stored = db.execute_sql('SELECT code, body, typeof(body) FROM "doc" ORDER BY code').fetchall()
    assert [(b, k) for _, b, k in stored] == [(t, "null" if t is None else "text") for t in AS_BYTES]
    # bound_rows (a caller binding the rows itself) hands them over as str.
    _, _, params = bound_rows(Doc, ["code", "body"], _text_rows())
    assert [p[1] for p in params] == AS_BYTES
    assert {type(p[1]) for p in params} == {str, type(None)}


def test_postgres_stores_text_bytes_as_the_text_they_are(db: peewee.PostgresqlDatabase) -> None:
    Row, _ = _pg_models(db)
    with db.atomic():
        insert_rows(db.cursor(), Row, ["code", "text"], _text_rows(), mark="%s")  # several rows: COPY
        insert_rows(db.cursor(), Row, ["code", "text"], [("9", TextBytes("一".encode()))], mark="%s")  # one: INSERT
    stored = dict(Row.select(Row.code, Row.text).tuples())
    assert stored == {**{str(i): t for i, t in enumerate(AS_BYTES)}, "9": "一"}


def test_postgres_copies_a_column_of_text_bytes_as_its_bytes_without_decoding_them(
    db: peewee.PostgresqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    Row, _ = _pg_models(db)
    statements = _copies_watched(monkeypatch)
    decoded: list[bytes] = []
    decode = TextBytes.decode

    def watched_decode(self: TextBytes, *args: Any, **kwargs: Any) -> str:
        decoded.append(self)
        return decode(self, *args, **kwargs)

    monkeypatch.setattr(TextBytes, "decode", watched_decode)
    texts = [t for t in AS_BYTES if t is not None]
    rows = [(str(i), TextBytes(t.encode())) for i, t in enumerate(texts)] + [("n", None)]
    kept = Encoder(lambda value: value, keeps=frozenset({TextBytes, type(None)}))  # as hub ingest's JSON columns
    with db.atomic():
        insert_rows(db.cursor(), Row, ["code", "text"], rows, mark="%s", encoder_for=lambda f: kept)
    assert statements == ['COPY "bulk_row" ("code", "text") FROM STDIN (FORMAT BINARY)']
    assert decoded == []  # the bytes went as they are
    stored = dict(Row.select(Row.code, Row.text).tuples())
    assert stored == {**{str(i): t for i, t in enumerate(texts)}, "n": None}
    # Bytes that are no UTF-8 text are refused by the server, as the text they would decode to could not be.
    with pytest.raises(psycopg.errors.CharacterNotInRepertoire), db.atomic():
        bad = [("x", TextBytes(b"\xff")), ("y", TextBytes(b"a"))]
        insert_rows(db.cursor(), Row, ["code", "text"], bad, mark="%s", encoder_for=lambda f: kept)


def test_postgres_text_bytes_on_a_connection_of_another_encoding_are_stored_as_their_text(
    db: peewee.PostgresqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    Row, _ = _pg_models(db)
    statements = _copies_watched(monkeypatch)
    kept = Encoder(lambda value: value, keeps=frozenset({TextBytes, type(None)}))
    texts = ["café", "naïve", None]
    with db.atomic():
        db.execute_sql("SET LOCAL client_encoding TO 'LATIN1'")  # UTF-8 bytes would be read as Latin-1 here
        rows = [(str(i), None if t is None else TextBytes(t.encode())) for i, t in enumerate(texts)]
        insert_rows(db.cursor(), Row, ["code", "text"], rows, mark="%s", encoder_for=lambda f: kept)
        assert statements == ['COPY "bulk_row" ("code", "text") FROM STDIN']  # decoded, by text COPY
        assert dict(Row.select(Row.code, Row.text).tuples()) == {str(i): t for i, t in enumerate(texts)}


def test_a_column_of_dates_only_is_bound_as_each_day_s_text() -> None:
    """Dates without a null go by the table of distinct days too: each row keeps its own day."""
    db = peewee.SqliteDatabase(":memory:")

    class Due(peewee.Model):
        on = peewee.DateField()

        class Meta:
            database = db

    db.create_tables([Due])
    days = [date(2026, 12, 1), date(2027, 1, 4), date(2026, 12, 1), date(1, 1, 1)]
    _, _, params = bound_rows(Due, ["on"], [(d,) for d in days], dates_as_text=True)
    assert params == [("2026-12-01",), ("2027-01-04",), ("2026-12-01",), ("0001-01-01",)]
    insert_rows(db.cursor(), Due, ["on"], [(d,) for d in days])
    assert [d.on for d in Due.select().order_by(Due.id)] == days


def test_a_column_of_one_date_time_object_is_bound_as_its_text_in_every_row() -> None:
    """One object in every row (a batch's audit entries' time) is printed once, as each row would print it;
    a column where one row differs still keeps each row's own text."""

    class Stamp(peewee.Model):
        at = peewee.DateTimeField()

    moment = datetime(2026, 12, 1, 10, 42, 0, 1, tzinfo=timezone(timedelta(hours=8)))
    _, _, params = bound_rows(Stamp, ["at"], [(moment,)] * 3, dates_as_text=True)
    assert params == [("2026-12-01 10:42:00.000001+08:00",)] * 3
    other = moment.replace(tzinfo=timezone.utc)  # equal to `moment`, another text
    _, _, params = bound_rows(Stamp, ["at"], [(moment,), (moment,), (other,)], dates_as_text=True)
    assert [p[0] for p in params] == [str(moment), str(moment), "2026-12-01 10:42:00.000001+00:00"]


class _Recorded(sqlite3.Cursor):
    """A sqlite3 cursor that keeps what executemany was given."""

    statements: list[tuple[str, list[tuple[Any, ...]]]] = []

    def executemany(self, sql: str, params: Any) -> Any:
        params = list(params)
        self.statements.append((sql, params))
        return super().executemany(sql, params)


def test_sqlite_binds_nothing_that_goes_through_sqlite3_s_adapters_and_stores_what_peewee_stores() -> None:
    """None and bytes (TextBytes) would each take sqlite3's adapter look-up: a column null in every row
    is written as NULL, TextBytes as a bytearray; a column holding nulls beside values keeps them bound.
    Every row reads back as Model.create stored it."""
    db = peewee.SqliteDatabase(":memory:")
    Row, Same = _pg_models(db)
    names = ["code", "text", "on", "at", "n"]
    rows = [(str(i), text, None, None, i if i % 2 else None) for i, (_, text) in enumerate(_text_rows())]
    as_given = Encoder(lambda v: v, keeps=frozenset({TextBytes, str, type(None)}))  # as hub ingest's JSON columns
    _Recorded.statements = []
    cursor = db.connection().cursor(_Recorded)
    insert_rows(cursor, Row, names, rows, encoder_for=lambda f: as_given if f.name == "text" else None)
    [(sql, params)] = _Recorded.statements
    assert {type(v) for row in params for v in row} == {str, bytearray, int, type(None)}
    # Three parameters a row (code, text, n); the nulls still bound are those of columns that also hold values.
    assert [[i for i, v in enumerate(row) if v is None] for row in params] == [[2], [], [1, 2], []]
    assert "VALUES (?, CAST(? AS TEXT), NULL, NULL, ?)" in sql
    for values in rows:
        Same.create(**dict(zip(names, (v.decode() if isinstance(v, TextBytes) else v for v in values))))
    read = 'SELECT code, text, typeof(text), "on", "at", n FROM "{}" ORDER BY code'
    stored = db.execute_sql(read.format("bulk_row")).fetchall()
    assert stored == db.execute_sql(read.format("bulk_same")).fetchall()
    assert [row[2] for row in stored] == ["text", "text", "null", "text"]


def test_a_column_of_the_objects_of_an_earlier_one_takes_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A case's received_at and updated_at hold one object per row: printed once for both columns; a
    column with one other object (equal, in another zone) is printed on its own, each row its own text."""

    class Seen(peewee.Model):
        received_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()
        closed_at = peewee.DateTimeField()

    printed = counted_printing(monkeypatch)
    moments = [datetime(2026, 12, 1, 8, 0, i, tzinfo=timezone(timedelta(hours=8))) for i in range(3)]
    other = moments[2].astimezone(timezone.utc)  # equal to moments[2], another text
    rows = [(m, m, m) for m in moments[:2]] + [(moments[2], moments[2], other)]
    _, _, params = bound_rows(Seen, ["received_at", "updated_at", "closed_at"], rows, dates_as_text=True)
    assert params == [(str(a), str(b), str(c)) for a, b, c in rows]
    assert len(printed) == 2  # received_at, then closed_at: updated_at took received_at's text


def counted_printing(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The date columns bulk_rows prints from now on, each as it was given (also tests/hub's)."""
    from shared import bulk_rows

    printed: list[tuple[Any, ...]] = []
    dates_as_text = bulk_rows._dates_as_text

    def counted(column: tuple[Any, ...], kinds: set[type]) -> tuple[Any, ...]:
        printed.append(column)
        return dates_as_text(column, kinds)

    monkeypatch.setattr(bulk_rows, "_dates_as_text", counted)
    return printed


def test_inserts_sharing_their_printed_dates_take_only_a_column_of_the_same_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hub ingest's cases and their status entries: a later INSERT's column of the objects an earlier one
    printed takes that text; one that only begins with those objects (a longer batch of entries) is
    printed on its own, and every row is stored."""
    db = peewee.SqliteDatabase(":memory:")
    Row, _ = _pg_models(db)
    printed = counted_printing(monkeypatch)
    moments = [datetime(2026, 12, 1, 8, 0, 0, i) for i in range(3)]
    shared = DatesPrinted()
    for code, stamps in (("a", moments[:2]), ("b", moments[:2]), ("c", moments)):
        insert_rows(db.cursor(), Row, ["code", "at"], [(f"{code}{i}", m) for i, m in enumerate(stamps)], printed=shared)
        if code == "b":
            assert len(printed) == 1  # the second INSERT took the first's text
    assert len(printed) == 2  # the same first two objects and one more: printed on its own
    assert [r.at for r in Row.select().order_by(Row.code)] == moments[:2] * 2 + moments
