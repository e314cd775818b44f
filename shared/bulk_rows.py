"""Many rows in few statements, for hub ingest and node apply alike (peewee models, any database).

Both apps write hundreds of rows per sync round; building a peewee query per row costs more than
the writing. These bind exactly what peewee would (each field's db_value, unless the caller gives a
faster encoder that stores the same), so the stored values are the same as Model.create would store.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import date, datetime
from itertools import chain, repeat
from operator import is_
from typing import Any, Callable, Iterator, NamedTuple

import peewee


class Encoder(NamedTuple):
    """How a column's values are bound in place of the field's db_value, storing the same.

    `encode` turns a value into what is bound. It returns values of the exact types in `keeps` as
    they are, so a column holding only such values is bound without a call per value.
    """

    encode: Callable[[Any], Any]
    keeps: frozenset[type] = frozenset()


class TextBytes(bytes):
    """Text given as its UTF-8 bytes (JSON as msgspec encodes it, say), stored as that text.

    sqlite3 binds it as those bytes (a bytearray of them: see _bound), cast to TEXT in the statement:
    the same stored text (SQLite reads a BLOB cast to TEXT as text in the database's encoding, UTF-8),
    without decoding the bytes to a str that sqlite3 would encode back to UTF-8 to bind. For any other
    driver it is decoded first.
    """


# For a field, its Encoder (None: the field's db_value).
EncoderFor = Callable[[Any], Encoder | None]

# SQLite binds a limited number of parameters per statement: ask in chunks of this many values.
CHUNK = 500


def chunks(values: list[Any], size: int = CHUNK) -> list[list[Any]]:
    """The distinct, non-null values in order, in lists of at most `size`."""
    unique = [v for v in dict.fromkeys(values) if v is not None]
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def existing(column: Any, values: list[Any]) -> list[Any]:
    """Which of the values the column already holds.

    Plain SQL: building "IN (…500 values…)" through peewee's query compiler cost more than running it.
    PostgreSQL gets every value as one array, `= ANY(…)`: one statement whatever the count, the same
    text each time, and a third less of the server's CPU than 200 bound values in an IN list
    (docs/performance.md, "Hub ingest on PostgreSQL: fewer indexes written per batch"); SQLite asks
    one chunk of IN at a time (its limit on bound parameters).
    """
    db = column.model._meta.database
    name, table = f'"{column.column_name}"', f'"{column.model._meta.table_name}"'
    # Column and table names come from the model's metadata, never from input; every value is bound.
    if isinstance(getattr(db, "obj", db), peewee.PostgresqlDatabase):
        unique = [v for v in dict.fromkeys(values) if v is not None]
        if not unique:
            return []
        sql = f"SELECT {name} FROM {table} WHERE {name} = ANY({db.param})"  # nosec B608
        return [v for (v,) in db.execute_sql(sql, (unique,)).fetchall()]
    found: list[Any] = []
    for chunk in chunks(values):
        sql = f"SELECT {name} FROM {table} WHERE {name} IN ({', '.join([db.param] * len(chunk))})"  # nosec B608
        found.extend(v for (v,) in db.execute_sql(sql, chunk).fetchall())
    return found


def default(field: Any) -> Any:
    """What peewee would store for a field a row does not set."""
    return field.default() if callable(field.default) else field.default


def aligned(model: Any, rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows given as {field name: value} as one column list and one value tuple per row.

    Rows of one batch may set different fields (a case with missing materials sets materials_asked_on,
    a complete one does not): the columns are every field any row sets, in first-seen order, then any
    other field with a default, and a row that leaves one out gets that field's default, as
    Model.create would store.
    """
    same = tuple(rows[0]) if rows else ()
    if all(tuple(row) == same for row in rows) and {f.name for f in model._meta.defaults} <= set(same):
        # Rows made from one template (hub ingest's cases): the same fields in the same order, defaults given.
        return list(same), [tuple(row.values()) for row in rows]
    # Every row's keys, then the defaulted fields, deduplicated in C (a batch's cases set ~30 each).
    names = list(dict.fromkeys(chain(chain.from_iterable(rows), [field.name for field in model._meta.defaults])))
    defaults = [default(model._meta.fields[name]) for name in names]  # once per batch: the rows share them
    # map(row.get, names, defaults) is row[name] if the row sets it, else the default, looped in C.
    return names, [tuple(map(row.get, names, defaults)) for row in rows]


def bound_rows(
    model: Any,
    names: tuple[str, ...] | list[str],
    rows: list[tuple[Any, ...]],
    encoder_for: EncoderFor | None = None,
    dates_as_text: bool = False,
) -> tuple[str, str, list[tuple[Any, ...]]]:
    """(quoted table, quoted column list, each row as the parameters peewee would bind) for an INSERT.

    `dates_as_text` (sqlite3 only): dates and date-times bound as the text sqlite3's adapters make of them.
    A column's TextBytes are bound as str (see insert_rows for sqlite3's way).
    """
    table, columns, params, _ = _bound(model, names, rows, encoder_for, dates_as_text, sqlite3_binds=False)
    return table, columns, params


# In place of a column's parameter in an INSERT's VALUES (insert_rows).
_BOUND, _AS_TEXT, _NULL = "bound", "as text", "null"
_NULL_ONLY = frozenset({type(None)})
_TEXT_BYTES_ONLY = frozenset({TextBytes})


def _bound(
    model: Any,
    names: tuple[str, ...] | list[str],
    rows: list[tuple[Any, ...]],
    encoder_for: EncoderFor | None,
    dates_as_text: bool,
    sqlite3_binds: bool,
    printed: "DatesPrinted | None" = None,
    encoded_columns: list[tuple[tuple[Any, ...], set[type]]] | None = None,
) -> tuple[str, str, list[tuple[Any, ...]], list[str]]:
    """bound_rows, and what each column is in the VALUES (_BOUND, _AS_TEXT, _NULL).

    `sqlite3_binds`: a column's TextBytes are bound as a bytearray of them, cast to TEXT (_AS_TEXT),
    and a column null in every row is written as NULL, not bound (_NULL; its values are left out of
    the rows). Else TextBytes are decoded and every column is bound.

    sqlite3 binds an int, float, str or bytearray straight; a value of any other type (None, bytes
    and TextBytes) first goes through its adapter look-up (a key tuple, a dict look-up, two attribute
    look-ups), 0.3-1 µs each, and a batch's case row had 10-12 (docs/performance.md, "Hub ingest on
    SQLite: nothing bound through sqlite3's adapters"). A bytearray binds as its bytes would, and NULL
    in the statement stores what a bound None does.

    `printed`: the date columns earlier INSERTs printed (DatesPrinted), whose text a column of the
    same objects takes; None: this INSERT's own. `encoded_columns`: the rows' columns already run
    through _encoded (insert_rows, when they could not go by binary COPY), not encoded again.
    """
    fields = [model._meta.fields[name] for name in names]
    table, columns = _names(model, fields)
    if encoded_columns is None:
        encoded_columns = [_encoded(field, column, encoder_for) for field, column in zip(fields, zip(*rows))]
    slots: list[str] = []
    encoded = []
    dates = printed if printed is not None else DatesPrinted()
    for column, kinds in encoded_columns:
        slot, column = _slotted(column, kinds, sqlite3_binds)
        slots.append(slot)
        if slot is _NULL:
            continue  # written as NULL: no parameter
        if dates_as_text and kinds & _DATE_TYPES:
            column = dates.text(column, kinds)
        encoded.append(column)
    params = list(zip(*encoded)) if encoded else [() for _ in rows]
    return table, columns, params, slots


def _encoded(field: Any, column: tuple[Any, ...], encoder_for: EncoderFor | None) -> tuple[tuple[Any, ...], set[type]]:
    """A column's values as the field binds them (its Encoder's, or its db_value's), and their types.

    A column whose values the encoding would return unchanged is kept as it is, so most values cost
    no Python call at all (ingest binds ~50 values per event).
    """
    custom = encoder_for(field) if encoder_for else None
    encode, unchanged = custom or (field.db_value, _unchanged_types(field))
    kinds = set(map(type, column))
    if not kinds <= unchanged:
        column = tuple(map(encode, column))
        kinds = set(map(type, column))
    return column, kinds


def _slotted(column: tuple[Any, ...], kinds: set[type], sqlite3_binds: bool) -> tuple[str, tuple[Any, ...]]:
    """What an encoded column is in the VALUES (_BOUND, _AS_TEXT, _NULL: see _bound), and its values
    as bound there: TextBytes as a bytearray of them (sqlite3) or decoded (any other driver)."""
    if TextBytes in kinds:
        if not sqlite3_binds:
            return _BOUND, tuple(value.decode() if value.__class__ is TextBytes else value for value in column)
        if kinds == _TEXT_BYTES_ONLY:
            return _AS_TEXT, tuple(map(bytearray, column))
        return _AS_TEXT, tuple(bytearray(value) if value.__class__ is TextBytes else value for value in column)
    if sqlite3_binds and kinds == _NULL_ONLY:
        return _NULL, column
    return _BOUND, column


class DatesPrinted:
    """The columns of dates INSERTs bind as text (_bound's `dates_as_text`), each printed once: a column
    of the very objects of an earlier one takes its text. One INSERT's own (a case's received_at and
    updated_at), or several INSERTs' (insert_rows' `printed`: hub ingest's cases and their status
    entries, stamped with the same times)."""

    def __init__(self) -> None:
        self._printed: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []  # (column, its text)

    def text(self, column: tuple[Any, ...], kinds: set[type]) -> tuple[Any, ...]:
        n = len(column)
        text = next(
            (text for earlier, text in self._printed if len(earlier) == n and all(map(is_, earlier, column))), None
        )
        if text is None:
            text = _dates_as_text(column, kinds)
            self._printed.append((column, text))
        return text


_DATE_TYPES = frozenset({date, datetime})
_DATETIME_ONLY = frozenset({datetime})


def _dates_as_text(column: tuple[Any, ...], kinds: set[type]) -> tuple[Any, ...]:
    """A column's dates and date-times as the text sqlite3's default adapters bind for them.

    Those adapters are Python functions (date.isoformat(), datetime.isoformat(" ")), called from C
    per value; str() of a date or date-time is that same text. A column of dates (and nulls) goes
    through a table of its distinct days (a batch's cases share a few); one of date-times all through
    datetime.isoformat in C (str() of a datetime calls it by name with " ": half again its time).
    """
    if not kinds <= _DATE_TYPES | {type(None)}:
        return column  # mixed with other types: left to sqlite3
    if datetime in kinds:  # not by a table: equal date-times of two zones print differently
        first = column[0]
        if all(value is first for value in column):  # one object (a batch's audit entries' time): written once
            return (str(first),) * len(column)
        if kinds == _DATETIME_ONLY:
            return tuple(map(datetime.isoformat, column, repeat(" ", len(column))))
        if kinds <= _DATE_TYPES:
            return tuple(map(str, column))
        return tuple(None if value is None else str(value) for value in column)
    text: dict[Any, Any] = {value: str(value) for value in set(column) if value is not None}
    text[None] = None
    return tuple(map(text.__getitem__, column))


def _unchanged_types(field: Any) -> frozenset[type]:
    """The exact types whose values this field's db_value returns as they are (None always, for peewee's own)."""
    kind = type(field)
    if kind.db_value is peewee.ForeignKeyField.db_value:
        # A key given as the value itself (not a row of the model) is bound as the referenced field binds it.
        return _unchanged_types(field.rel_field)
    if kind.db_value is not peewee.Field.db_value:  # e.g. a JSON column: always encoded
        return frozenset()
    for adapt, types in _IDENTITY_ADAPT:
        if kind.adapt is adapt:
            return types
    return frozenset()


# peewee's adapt() of these returns a value of exactly these types unchanged.
_IDENTITY_ADAPT: tuple[tuple[Any, frozenset[type]], ...] = (
    (peewee.CharField.adapt, frozenset({str, type(None)})),
    (peewee.IntegerField.adapt, frozenset({int, type(None)})),
    (peewee.BooleanField.adapt, frozenset({bool, type(None)})),
    (peewee.DateTimeField.adapt, frozenset({datetime, type(None)})),
    (peewee.DateField.adapt, frozenset({date, type(None)})),
)


def insert_rows(
    cursor: Any,
    model: Any,
    names: tuple[str, ...] | list[str],
    rows: list[tuple[Any, ...]],
    mark: str = "?",
    encoder_for: EncoderFor | None = None,
    printed: DatesPrinted | None = None,
) -> None:
    """INSERT the rows: COPY on psycopg 3 when there are several and every value reads back the
    same, else one prepared statement run once per row (`mark` is the driver's placeholder).

    These are plain INSERTs (no ON CONFLICT), so COPY stores the same rows, fires the same
    constraints and fails on the same duplicate as they would. On PostgreSQL it took half the
    server's CPU and half the hub's of psycopg's pipelined executemany for a batch's rows
    (docs/performance.md, "Hub ingest on PostgreSQL: the database's side").

    `printed` (sqlite3): the date texts of the caller's earlier INSERTs (DatesPrinted), taken by a
    column of the same objects instead of printing them again.
    """
    if not rows:
        return
    sqlite = isinstance(cursor, sqlite3.Cursor)
    encoded = None
    if not sqlite and len(rows) > 1 and _copy_allowed(cursor):
        fields = [model._meta.fields[name] for name in names]
        encoded = [_encoded(field, column, encoder_for) for field, column in zip(fields, zip(*rows))]
        types = _binary_types(fields, encoded, cursor.connection.info.encoding == "utf-8")
        if types is not None:
            table, columns = _names(model, fields)
            with _binary_copy(cursor, f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)", types) as copy:  # nosec B608
                for row in zip(*(column for column, _ in encoded)):
                    copy.write_row(row)
            return
    table, columns, params, slots = _bound(
        model, names, rows, encoder_for, sqlite, sqlite3_binds=sqlite, printed=printed, encoded_columns=encoded
    )
    # Table and column names come from the model's metadata, never from input; every value is bound
    # (or is the literal NULL). One row goes by INSERT: one round trip, where COPY takes two (its
    # start, then its data).
    if len(params) > 1 and _can_copy(cursor, model, names, params):
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # nosec B608
            for row in params:
                copy.write_row(row)
        return
    # sqlite3 only: a column of TextBytes is stored as the text its bytes are, a column of nulls as NULL.
    marks = ", ".join(f"CAST({mark} AS TEXT)" if s == _AS_TEXT else "NULL" if s == _NULL else mark for s in slots)
    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", params)  # nosec B608


# Besides str and None (text the server reads by the column's type either way), the types whose
# COPY text the server reads as it reads the typed parameter, and the column types (peewee's
# field_type) they may go to. A datetime only without a zone: as a parameter one with a zone is
# converted to the session's, as COPY text into a `timestamp` column its offset would be dropped.
_COPY_INTO: dict[type, frozenset[str]] = {
    int: frozenset({"INT", "BIGINT", "SMALLINT", "AUTO", "BIGAUTO"}),
    bool: frozenset({"BOOL"}),
    date: frozenset({"DATE"}),
    datetime: frozenset({"DATETIME"}),
}


@contextlib.contextmanager
def _binary_copy(cursor: Any, statement: str, types: list[str]) -> Iterator[Any]:
    with cursor.copy(statement) as copy:
        copy.set_types(types)
        yield copy


# Each column type (peewee's field_type) and the PostgreSQL type whose binary form psycopg writes for
# it, with the exact Python types whose values it writes. Binary COPY spares the server parsing each
# value's text (and psycopg escaping it): a third less of both one's and the other's CPU for a batch's
# rows (docs/performance.md, "... (session 15)"). A str goes only to a text column (its bytes are the
# value whatever the text type); int to an integer of the column's own width (int4 data in an int8
# column would be misread).
_BINARY: dict[str, tuple[str, frozenset[type]]] = {
    "VARCHAR": ("text", frozenset({str})),
    "CHAR": ("text", frozenset({str})),
    "TEXT": ("text", frozenset({str})),
    "SMALLINT": ("int2", frozenset({int})),
    "INT": ("int4", frozenset({int})),
    "AUTO": ("int4", frozenset({int})),
    "BIGINT": ("int8", frozenset({int})),
    "BIGAUTO": ("int8", frozenset({int})),
    "BOOL": ("bool", frozenset({bool})),
    "DATE": ("date", frozenset({date})),
    "DATETIME": ("timestamp", frozenset({datetime})),
}
_TEXT_BYTES_OR_NULL = frozenset({TextBytes, type(None)})


def _binary_types(fields: list[Any], encoded: list[tuple[tuple[Any, ...], set[type]]], utf8: bool) -> list[str] | None:
    """The type whose binary dumper psycopg writes each encoded column with (_encoded's values and their
    types) in a binary COPY, or None if some column's values are not all of the exact types its binary
    form takes (or null).

    A text column of TextBytes (and nulls) goes as those bytes (psycopg's bytea dumper writes them as
    they are) when the connection's encoding is UTF-8 (`utf8`): a text's binary form is its characters'
    bytes in that encoding, and the server checks them as it does any text it is sent. So the JSON
    encoded once is never decoded to a str to be encoded again. A datetime only without a zone (as
    _can_copy).
    """
    types = []
    for field, (column, kinds) in zip(fields, encoded):
        binary = _BINARY.get(field.field_type)
        if binary is None:
            return None
        kind, takes = binary
        others = kinds - _NULL_ONLY
        if others <= takes:
            if datetime in others and any(getattr(v, "tzinfo", None) is not None for v in column):
                return None
            types.append(kind)
        elif kind == "text" and utf8 and kinds <= _TEXT_BYTES_OR_NULL:
            types.append("bytea")
        elif kind == "text" and all(issubclass(k, str) for k in others):
            types.append(kind)
        else:
            return None
    return types


def _names(model: Any, fields: list[Any]) -> tuple[str, str]:
    """The quoted table and column list of these fields (from the model's metadata, never from input)."""
    return f'"{model._meta.table_name}"', ", ".join(f'"{f.column_name}"' for f in fields)


def _copy_allowed(cursor: Any) -> bool:
    """A psycopg 3 cursor outside pipeline mode (where COPY may run)."""
    pgconn = getattr(getattr(cursor, "connection", None), "pgconn", None)
    return pgconn is not None and hasattr(cursor, "copy") and not pgconn.pipeline_status


def _can_copy(cursor: Any, model: Any, names: tuple[str, ...] | list[str], params: list[tuple[Any, ...]]) -> bool:
    """Whether these rows may go by COPY FROM STDIN and be stored exactly as the INSERT would store
    them: a psycopg 3 cursor outside pipeline mode, and every value a str (a subclass too: JSON
    text already encoded), None, or of a type above in a column of a type it allows."""
    if not _copy_allowed(cursor):
        return False
    for name, column in zip(names, zip(*params)):
        for kind in set(map(type, column)):
            if kind is type(None) or issubclass(kind, str):
                continue
            if model._meta.fields[name].field_type not in _COPY_INTO.get(kind, ()):
                return False
            if kind is datetime and any(getattr(v, "tzinfo", None) is not None for v in column):
                return False
    return True
