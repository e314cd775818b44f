"""On PostgreSQL (schema 16) a batch's references to its node and village are checked per statement.

The foreign keys of case, node event and log entry to the node (and of a case to its village) were
checked row by row; triggers now keep the same rule once per statement (hub/schema.py,
`statement_references`). Every reference the foreign key refused is still refused, with the same
SQLSTATE (23503), whatever writes it: a batch's COPY, one INSERT, an UPDATE; and a node or village
still referenced can be neither deleted, nor renumbered, nor truncated away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import peewee
import psycopg
import pytest

from hub.clock import now
from hub.db import database
from hub.models import Case, HubEvent, Node, NodeEvent, Village
from hub.schema import SCHEMA_VERSION, STATEMENT_CHECKED, SchemaMigration, migrate
from shared.bulk_rows import aligned, insert_rows
from tests.hub.case_rows import case_row, hub_with_a_node

pytestmark = pytest.mark.pg


@pytest.fixture
def hub_pg(pg_url: str) -> Iterator[str]:
    with hub_with_a_node(pg_url):
        Village.create(name="西村", prefix="XC", created_at=now())
        yield pg_url


@contextmanager
def _refused() -> Iterator[None]:
    """The statement is refused as a foreign key refuses (SQLSTATE 23503), and its transaction undone."""
    with pytest.raises((peewee.IntegrityError, psycopg.errors.ForeignKeyViolation)) as info, database.atomic():
        yield
    error = getattr(info.value, "orig", info.value)
    assert error.sqlstate == "23503", error


def _event(seq: int, node: str = "n1") -> dict[str, Any]:
    return dict(node=node, seq=seq, event_id=f"e{seq}", type="t", request_id=f"r{seq}", body={}, result="ok")


def _case(n: int, node: str | None = "n1", village: int = 1) -> dict[str, Any]:
    return case_row(f"C{n}", request_id=f"r{n}", node=node, village=village)


def _copy(model: Any, rows: list[dict[str, Any]]) -> None:
    """As a batch writes them: one COPY for many rows (shared.bulk_rows.insert_rows)."""
    names, values = aligned(model, rows)
    insert_rows(database.obj.cursor(), model, names, values, mark="%s")


def _foreign_keys() -> set[tuple[str, str]]:
    rows = database.execute_sql(
        "SELECT conrelid::regclass::text, a.attname FROM pg_constraint c JOIN pg_attribute a"
        " ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f'"
    ).fetchall()
    return {(t.strip('"'), col) for t, col in rows}


def _statement_checked() -> set[tuple[str, str]]:
    return {(m._meta.table_name, c) for refs in STATEMENT_CHECKED.values() for m, c in refs}


def test_the_references_are_triggers_not_foreign_keys_and_the_rest_stay(hub_pg: str) -> None:
    keys = _foreign_keys()
    assert not keys & _statement_checked()
    assert {("batch", "node_id"), ("node", "village_id"), ("forkalert", "node_id")} <= keys
    triggers = {name for (name,) in database.execute_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
    for table, column in _statement_checked():
        assert {f"{table}_{column}_added", f"{table}_{column}_changed"} <= triggers


def test_a_batch_with_one_unknown_node_is_refused_whole(hub_pg: str) -> None:
    with _refused():
        _copy(NodeEvent, [_event(1), _event(2, node="ghost"), _event(3)])
    assert NodeEvent.select().count() == 0
    with _refused():
        _copy(
            HubEvent,
            [dict(node="ghost", cseq=i, request_id="r", type="t", body={}, actor="a", at=now()) for i in (1, 2)],
        )
    with _refused():
        _copy(Case, [_case(1), _case(2, node="ghost")])
    with _refused():
        _copy(Case, [_case(1), _case(2, village=999)])
    assert Case.select().count() == 0
    assert HubEvent.select().count() == 0
    with database.atomic():
        _copy(NodeEvent, [_event(1), _event(2)])
        _copy(Case, [_case(1), _case(2, node=None, village=2)])  # a counter case has no node
    assert NodeEvent.select().count() == 2
    assert Case.select().count() == 2


def test_one_row_and_an_update_are_checked_too(hub_pg: str) -> None:
    with _refused():
        NodeEvent.create(**_event(1, node="ghost"))
    with database.atomic():
        _copy(Case, [_case(1), _case(2)])
    with _refused():
        Case.update(node="ghost").where(Case.request_id == "r1").execute()
    with _refused():
        Case.update(village=999).where(Case.request_id == "r1").execute()
    Case.update(node=None, village=2).where(Case.request_id == "r1").execute()
    assert Case.get_by_id("r1").village_id == 2


def test_a_referenced_node_or_village_stays(hub_pg: str) -> None:
    village = Village.create(name="南村", prefix="NC", created_at=now())
    Node.create(node_id="n2", village=village, pubkey="k", fingerprint="f", enrolled_at=now(), last_hash="0" * 64)
    _copy(NodeEvent, [_event(1), _event(2)])
    for statement in (
        "DELETE FROM node WHERE node_id = 'n1'",
        "UPDATE node SET node_id = 'n9' WHERE node_id = 'n1'",
        "TRUNCATE node CASCADE",
    ):
        with _refused():
            database.execute_sql(statement)
    _copy(Case, [_case(1, node=None, village=2)])
    with _refused():
        database.execute_sql("DELETE FROM village WHERE id = 2")
    # Not referenced: its other columns change freely, and it may go.
    Node.update(status="revoked").where(Node.node_id == "n1").execute()
    assert Node.delete().where(Node.node_id == "n2").execute() == 1
    assert Node.select().count() == 1


def test_a_writer_and_a_deleter_at_once_cannot_leave_a_dangling_reference(hub_pg: str) -> None:
    """The check locks the node as a foreign key does: whoever comes second waits, then is refused."""
    with psycopg.connect(hub_pg) as writer, psycopg.connect(hub_pg) as deleter:
        writer.execute(
            "INSERT INTO nodeevent (node_id, seq, event_id, type, request_id, body, result)"
            " VALUES ('n1', 1, 'e1', 't', 'r1', '{}', 'ok')"
        )
        deleter.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            deleter.execute("DELETE FROM node WHERE node_id = 'n1'")  # waits for the writer's lock
        deleter.rollback()
        writer.commit()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            deleter.execute("DELETE FROM node WHERE node_id = 'n1'")
        deleter.rollback()
        # The other way round: the deleter first, the writer waits, then finds the node gone.
        writer.execute("DELETE FROM nodeevent")
        writer.commit()
        deleter.execute("DELETE FROM node WHERE node_id = 'n1'")
        writer.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            writer.execute(
                "INSERT INTO nodeevent (node_id, seq, event_id, type, request_id, body, result)"
                " VALUES ('n1', 2, 'e2', 't', 'r2', '{}', 'ok')"
            )
        writer.rollback()
        deleter.commit()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            writer.execute(
                "INSERT INTO nodeevent (node_id, seq, event_id, type, request_id, body, result)"
                " VALUES ('n1', 2, 'e2', 't', 'r2', '{}', 'ok')"
            )
        writer.rollback()


def test_schema_15_gets_the_triggers_and_a_second_run_changes_nothing(hub_pg: str) -> None:
    """A schema 15 database (its foreign keys, no triggers) upgrades to what a fresh one has."""
    fresh_keys = _foreign_keys()
    with database.atomic():
        for referenced, refs in STATEMENT_CHECKED.items():
            for model, column in refs:
                table = model._meta.table_name
                for suffix in ("added", "changed"):
                    database.execute_sql(f'DROP TRIGGER "{table}_{column}_{suffix}" ON "{table}"')
                database.execute_sql(
                    f'ALTER TABLE "{table}" ADD FOREIGN KEY ("{column}") REFERENCES "{referenced._meta.table_name}"'
                )
            name = referenced._meta.table_name
            database.execute_sql(f'DROP TRIGGER "{name}_kept" ON "{name}"')
            database.execute_sql(f'DROP TRIGGER "{name}_kept_whole" ON "{name}"')
        SchemaMigration.delete().where(SchemaMigration.version >= 16).execute()
    assert _statement_checked() <= _foreign_keys()
    assert migrate() == (15, SCHEMA_VERSION)
    assert _foreign_keys() == fresh_keys
    with _refused():
        _copy(NodeEvent, [_event(1), _event(2, node="ghost")])
    assert migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert _foreign_keys() == fresh_keys
