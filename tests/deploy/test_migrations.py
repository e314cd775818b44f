"""Hub schema migrations on SQLite and PostgreSQL: from empty, from the previous schema, twice."""

from __future__ import annotations

from pathlib import Path

from playhouse.migrate import SchemaMigrator, migrate as run_operations

from hub.clock import now
from hub.db import bind, database, open_database
from hub.models import ALL_MODELS, JobRun, Node, Setting, SyncStat, Village
from hub.schema import SCHEMA_VERSION, SchemaMigration, current_version, migrate


def _open(url: str) -> None:
    bind(open_database(url))
    database.connect(reuse_if_open=True)


def _make_v1_with_data() -> None:
    """The schema as version 1 left it, holding a village and its node."""
    database.create_tables(ALL_MODELS)
    village = Village.create(name="桃源村", prefix="22", created_at=now())
    Node.create(
        node_id="n1",
        village=village,
        pubkey="k" * 44,
        fingerprint="F",
        enrolled_at=now(),
        last_seq=7,
        last_hash="a" * 64,
    )
    Setting.create(key="schema_version", value="1")
    database.drop_tables([JobRun, SyncStat])
    run_operations(SchemaMigrator.from_database(database.obj).drop_column("node", "protocol_version"))
    for name in _routing_indexes():
        database.execute_sql(f'DROP INDEX "{name}"')


def _routing_indexes() -> set[str]:
    """The indexes schema 3 adds for routing, as they stand in the database."""
    wanted = {("case", ("assignee", "state")), ("assignment", ("username", "at"))}
    return {
        i.name
        for table in ("case", "assignment")
        for i in database.get_indexes(table)
        if (table, tuple(i.columns)) in wanted
    }


def _columns(table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def test_migrate_from_empty_twice(hub_db_url: str) -> None:
    _open(hub_db_url)
    try:
        assert current_version() == 0
        assert migrate() == (0, SCHEMA_VERSION)
        assert migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
        assert [r.version for r in SchemaMigration.select().order_by(SchemaMigration.version)] == list(
            range(1, SCHEMA_VERSION + 1)
        )
        assert "protocol_version" in _columns("node")
    finally:
        database.close()


def test_migrate_from_v1_keeps_data(hub_db_url: str) -> None:
    _open(hub_db_url)
    try:
        _make_v1_with_data()
        assert "protocol_version" not in _columns("node")
        assert not _routing_indexes()
        assert current_version() == 1
        assert migrate() == (1, SCHEMA_VERSION)
        assert "protocol_version" in _columns("node")
        assert len(_routing_indexes()) == 2
        node = Node.get_by_id("n1")
        assert (node.last_seq, node.last_hash, node.village.name) == (7, "a" * 64, "桃源村")
        assert node.protocol_version is None
        JobRun.create(job="heartbeat", started_at=now(), pid=1)
        assert migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
        assert JobRun.select().count() == 1
        assert Node.select().count() == 1
    finally:
        database.close()


def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    _open(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        migrate()
        SchemaMigration.create(version=SCHEMA_VERSION + 1, applied_at=now())
        try:
            migrate()
        except RuntimeError as exc:
            assert "请先升级中心软件" in str(exc)
        else:
            raise AssertionError("a newer database must be refused")
        assert current_version() == SCHEMA_VERSION + 1
    finally:
        database.close()


def _indexes(table: str) -> set[tuple[str, ...]]:
    return {tuple(i.columns) for i in database.get_indexes(table)}


def test_schema_15_drops_the_indexes_ingest_wrote_for_no_query(hub_db_url: str) -> None:
    """A schema 14 database loses the single-column indexes on a case's node, item and source and on
    a batch's node; the indexes queries use stay, and a second run changes nothing."""
    from hub.schema import STEP_15_DROPPED

    _open(hub_db_url)
    try:
        assert migrate() == (0, SCHEMA_VERSION)
        dropped = {("case", ("node_id",)), ("case", ("item_code",)), ("case", ("source",)), ("batch", ("node_id",))}
        assert not any(cols in _indexes(t) for t, cols in dropped)
        with database.atomic():
            # Schema 14 as it was: the same names peewee gave these indexes then.
            for name in STEP_15_DROPPED:
                table, column = name.split("_", 1)
                database.execute_sql(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
            SchemaMigration.delete().where(SchemaMigration.version >= 15).execute()
        assert all(cols in _indexes(t) for t, cols in dropped)
        assert migrate() == (14, SCHEMA_VERSION)
        assert not any(cols in _indexes(t) for t, cols in dropped)
        case_indexes = _indexes("case")
        kept_by_queries = [("receipt_code",), ("window",), ("state",), ("village_id",), ("assignee", "state")]
        for kept in kept_by_queries:
            assert kept in case_indexes
        # The ID number's index, wider since schema 17.
        assert any(cols[:2] == ("id_number", "item_code") for cols in case_indexes)
        assert ("node_id", "first_seq") in _indexes("batch")
        assert migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
    finally:
        database.close()


def test_schema_17_audit_hash_not_unique_and_the_id_number_index_covering(hub_db_url: str) -> None:
    """A schema 16 database holding cases and an audit chain: the audit hash loses its unique index,
    the (ID number, item) index becomes the covering one, rows and the chain are kept, the open-cases
    look-up answers as before, and a second run changes nothing."""
    from hub import audit, duplicates
    from hub.models import AuditEntry, Case
    from hub.schema import STEP_17_DROPPED
    from tests.hub.case_rows import case_row, hub_with_a_node

    covering = ("id_number", "item_code", "state", "received_at", "receipt_code")
    with hub_with_a_node(hub_db_url):
        Case.insert_many(
            [
                case_row("22A", id_number="430102199001011234", item_code="JF-01"),
                case_row("22B", id_number="430102199001011234", item_code="JF-02", state="approved"),
                case_row("22C", id_number="430102199001015678", item_code="JF-01"),
            ]
        ).execute()
        for code in ("22A", "22B", "22C"):
            audit.record("staff1", "case.accept", code, {"code": code})
        with database.atomic():
            # Schema 16 as it was: the names and columns peewee gave these indexes then.
            database.execute_sql('CREATE UNIQUE INDEX "auditentry_hash" ON "auditentry" ("hash")')
            database.execute_sql('CREATE INDEX "case_id_number_item_code" ON "case" ("id_number", "item_code")')
            database.execute_sql(f'DROP INDEX "case_{"_".join(covering)}"')
            SchemaMigration.delete().where(SchemaMigration.version >= 17).execute()
        assert {("hash",), ("id_number", "item_code")} <= _indexes("auditentry") | _indexes("case")
        unique_hash = [i for i in database.get_indexes("auditentry") if i.columns == ["hash"]]
        assert [i.unique for i in unique_hash] == [True]
        open_before = duplicates.open_codes([("430102199001011234", "JF-01"), ("430102199001011234", "JF-02")])
        rows_before = sorted(Case.select(Case.receipt_code, Case.id_number, Case.state).tuples())

        assert migrate() == (16, SCHEMA_VERSION)
        assert not any(name == i.name for name in STEP_17_DROPPED for i in database.get_indexes("auditentry"))
        assert ("hash",) not in _indexes("auditentry")
        assert {("seq",), ("action",)} <= _indexes("auditentry")
        assert ("id_number", "item_code") not in _indexes("case")
        assert covering in _indexes("case")
        assert sorted(Case.select(Case.receipt_code, Case.id_number, Case.state).tuples()) == rows_before
        assert duplicates.open_codes([("430102199001011234", "JF-01"), ("430102199001011234", "JF-02")]) == open_before
        assert open_before == {("430102199001011234", "JF-01"): "22A"}
        # The chain still holds, and grows on the same head: seq stays unique.
        audit.record("staff1", "case.accept", "22D", {"code": "22D"})
        assert audit.verify() == (AuditEntry.select().count(), None)
        assert migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
