"""Many rows in few statements, for hub ingest and node apply alike (peewee models, any database).

Both apps write hundreds of rows per sync round; building a peewee query per row costs more than
the writing. These bind exactly what peewee would (each field's db_value), so the stored values are
the same as Model.create would store.
"""

from __future__ import annotations

from typing import Any

# SQLite binds a limited number of parameters per statement: ask in chunks of this many values.
CHUNK = 500


def chunks(values: list[Any], size: int = CHUNK) -> list[list[Any]]:
    """The distinct, non-null values in order, in lists of at most `size`."""
    unique = [v for v in dict.fromkeys(values) if v is not None]
    return [unique[i:i + size] for i in range(0, len(unique), size)]


def existing(column: Any, values: list[Any]) -> list[Any]:
    """Which of the values the column already holds (one query per chunk of values)."""
    return [v for chunk in chunks(values) for (v,) in column.model.select(column).where(column.in_(chunk)).tuples()]


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
    set_by_rows = [name for row in rows for name in row]
    names = list(dict.fromkeys(set_by_rows + [field.name for field in model._meta.defaults]))
    fields = [model._meta.fields[name] for name in names]
    return names, [tuple(row[f.name] if f.name in row else default(f) for f in fields) for row in rows]


def bound_rows(model: Any, names: tuple[str, ...] | list[str],
               rows: list[tuple[Any, ...]]) -> tuple[str, str, list[tuple[Any, ...]]]:
    """(quoted table, quoted column list, each row as the parameters peewee would bind) for an INSERT."""
    fields = [model._meta.fields[name] for name in names]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    params = [tuple(f.db_value(v) for f, v in zip(fields, row)) for row in rows]
    return f'"{model._meta.table_name}"', columns, params


def insert_rows(cursor: Any, model: Any, names: tuple[str, ...] | list[str], rows: list[tuple[Any, ...]],
                mark: str = "?") -> None:
    """INSERT the rows with one prepared statement run once per row (`mark` is the driver's placeholder)."""
    if not rows:
        return
    table, columns, params = bound_rows(model, names, rows)
    # Table and column names come from the model's metadata, never from input; every value is bound.
    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * len(names))})",  # nosec B608
                       params)
