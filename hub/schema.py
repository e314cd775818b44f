"""Schema creation and migrations, run by `daiban hub init` / `daiban hub migrate`, never at import.

An empty database gets the latest tables at once; an older one runs each step after its
recorded version, in order, inside one transaction. Every step checks before it changes
anything, so running `migrate` twice (or from two workers at once) is harmless.
"""

from __future__ import annotations

from typing import Callable

import peewee
from playhouse.migrate import SchemaMigrator, migrate as run_operations

from shared import schema_steps
from shared.catalogue import DEFAULT_CATALOGUE

from . import settings
from .clock import now
from .db import BaseModel, database, is_postgres
from .models import (
    ALL_MODELS,
    Assignment,
    Case,
    CatalogueVersion,
    Contact,
    CountyReferral,
    EnrolmentSecret,
    Extension,
    HelloNonce,
    HubEvent,
    JobRun,
    MailMessage,
    Node,
    NodeEvent,
    Publicity,
    Rating,
    Setting,
    SmsMessage,
    SmsOptOut,
    Staff,
    SyncStat,
    TownshipAlert,
    TownshipFigures,
    Village,
)

# Any constant: PostgreSQL advisory lock that serialises concurrent `migrate` runs.
MIGRATION_LOCK_ID = 0x0DA1BA


SchemaMigration = schema_steps.version_table(BaseModel)


def _has_column(model: type[peewee.Model], column: str) -> bool:
    return schema_steps.has_column(database, model, column)


def _step_2(migrator: SchemaMigrator) -> None:
    """Schema 2: job-run records, sync statistics, and the protocol version each node speaks."""
    database.create_tables([JobRun, SyncStat], safe=True)
    if not _has_column(Node, "protocol_version"):
        run_operations(migrator.add_column(Node._meta.table_name, "protocol_version", Node.protocol_version))


def _step_3(migrator: SchemaMigrator) -> None:
    """Schema 3: indexes routing needs (open cases per person, latest assignment per person)."""
    database.create_tables([Assignment], safe=True)
    for model in (Case, Assignment):
        model._schema.create_indexes(safe=True)


def _step_4(migrator: SchemaMigrator) -> None:
    """Schema 4: SPAKE2 enrolment secrets and the nonces of recent hellos (replay refusal)."""
    database.create_tables([EnrolmentSecret, HelloNonce], safe=True)


def _step_5(migrator: SchemaMigrator) -> None:
    """Schema 5: the public face: 好差评 ratings, 镇长信箱 messages, the SMS outbox and opt-outs."""
    database.create_tables([Rating, MailMessage, SmsMessage, SmsOptOut], safe=True)


def _step_6(migrator: SchemaMigrator) -> None:
    """Schema 6: the centre's promises: clock start (受理), 补正 count and date, extensions, first contacts."""
    database.create_tables([Extension, Contact], safe=True)
    for name in ("clock_start", "accepted_on", "materials_asks", "materials_asked_on"):
        if not _has_column(Case, name):
            run_operations(migrator.add_column(Case._meta.table_name, name, Case._meta.fields[name]))


def _step_7(migrator: SchemaMigrator) -> None:
    """Schema 7: a case's source (village point or the centre's counter) and who received it at the counter."""
    for name in ("source", "received_by"):
        if not _has_column(Case, name):
            run_operations(migrator.add_column(Case._meta.table_name, name, Case._meta.fields[name]))


def _step_8(migrator: SchemaMigrator) -> None:
    """Schema 8: 报县级 referrals with the county's answer, and 公示 before approval with its objections."""
    database.create_tables([CountyReferral, Publicity], safe=True)


def _nullable(model: type[peewee.Model], column: str) -> bool:
    return schema_steps.is_nullable(database, model, column)


def _step_9(migrator: SchemaMigrator) -> None:
    """Schema 9: counter cases have no village node (nor do their log entries); 两头受理 is flagged on the case."""
    for model in (Case, HubEvent):
        if not _nullable(model, "node_id"):
            run_operations(migrator.drop_not_null(model._meta.table_name, "node_id"))
    if not _has_column(Case, "duplicate_of"):
        run_operations(migrator.add_column(Case._meta.table_name, "duplicate_of", Case.duplicate_of))
    Case._schema.create_indexes(safe=True)


def _step_10(migrator: SchemaMigrator) -> None:
    """Schema 10: each staff member's backup (AB角), who takes over their open cases when they are away."""
    if not _has_column(Staff, "backup"):
        run_operations(migrator.add_column(Staff._meta.table_name, "backup", Staff.backup))


def _step_11(migrator: SchemaMigrator) -> None:
    """Schema 11: the county level: a passed-up case's 初审 opinion, as the county hub received it."""
    if not _has_column(CountyReferral, "opinion"):
        run_operations(migrator.add_column(CountyReferral._meta.table_name, "opinion", CountyReferral.opinion))


def _step_12(migrator: SchemaMigrator) -> None:
    """Schema 12: a village's receipt prefix may have 3 symbols (villages past the 960th, shared/receipt_codes.py)."""
    schema_steps.widen_varchar(database.obj, migrator, Village, "prefix")


def _step_13(migrator: SchemaMigrator) -> None:
    """Schema 13: at a county hub, what the townships report besides cases: daily figures and alerts."""
    database.create_tables([TownshipFigures, TownshipAlert], safe=True)


def _step_14(migrator: SchemaMigrator) -> None:
    """Schema 14: no index on the node alone of the two logs; (node, seq) and (node, cseq) cover it.

    Each cost one more index insert per row a batch writes (docs/performance.md, issue #13 third pass).
    """
    for model in (NodeEvent, HubEvent):
        database.execute_sql(f'DROP INDEX IF EXISTS "{model._meta.table_name}_node_id"')


# The indexes schema 15 drops, by peewee's names (table_column).
STEP_15_DROPPED = ("case_node_id", "case_item_code", "case_source", "batch_node_id")


def _step_15(migrator: SchemaMigrator) -> None:
    """Schema 15: no index on a case's node, item or source, nor on a batch's node alone.

    No query looks a case up by one of those alone (EXPLAIN at 100k cases: docs/performance.md,
    "Hub ingest on PostgreSQL: fewer indexes written per batch"), and (node, first_seq) serves the
    batch's look-up; each cost one more index insert per row a batch writes.
    """
    for name in STEP_15_DROPPED:
        database.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


# Schema 16, PostgreSQL: the references a batch writes for every event, checked once per statement.
# (referencing model, its column) by the model referenced; that model's key column is the same name.
STATEMENT_CHECKED: dict[type[peewee.Model], tuple[tuple[type[peewee.Model], str], ...]] = {
    Node: ((Case, "node_id"), (NodeEvent, "node_id"), (HubEvent, "node_id")),
    Village: ((Case, "village_id"),),
}


def _step_16(migrator: SchemaMigrator) -> None:
    """Schema 16: on PostgreSQL, a batch's references to its node and village checked per statement.

    A foreign key is checked row by row (a `SELECT … FOR KEY SHARE` of the node for each case, node
    event and log entry, four per captured event): about a quarter of the server's CPU per batch of
    200 (docs/performance.md, "Hub ingest on PostgreSQL: one look-up per batch, references checked
    per statement"). The same rule is now kept by triggers (`statement_references`); SQLite keeps its
    foreign keys.
    """
    if is_postgres():
        statement_references()


def statement_references() -> None:
    """Replace the foreign keys of STATEMENT_CHECKED by triggers that keep the same rule (PostgreSQL).

    Referencing side: after each INSERT statement, the distinct values its rows reference are locked
    `FOR KEY SHARE` (as a foreign key locks them, so that no one deletes them before this commits)
    and one missing is refused; after an UPDATE that changes the column, the same for that row.
    Referenced side: a row still referenced may not be deleted nor its key changed, and the table not
    truncated while a referencing table holds rows. Both refuse with SQLSTATE 23503, as the foreign
    key did (psycopg's ForeignKeyViolation, peewee's IntegrityError). The hub's transactions run at
    READ COMMITTED, where each check's statement sees what committed before it: the order of two
    writers cannot slip a dangling reference past both (the lock makes the later one wait, then look).
    Safe to re-run.
    """
    for referenced, referencing in STATEMENT_CHECKED.items():
        table, key = referenced._meta.table_name, referenced._meta.primary_key.column_name
        ref_name = f"daiban_{table}"
        refused = (
            'RAISE EXCEPTION \'insert or update on table "%" violates its reference to "{table}"\', TG_TABLE_NAME '
            "USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key ({column})=(%s) is not present in table "
            '"{table}".\', missing);'
        )
        for model, column in referencing:
            name = model._meta.table_name
            for (constraint,) in database.execute_sql(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass "
                "AND confrelid = %s::regclass AND conkey = ARRAY[(SELECT attnum FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attname = %s)]::int2[]",
                (f'"{name}"', f'"{table}"', f'"{name}"', column),
            ).fetchall():
                database.execute_sql(f'ALTER TABLE "{name}" DROP CONSTRAINT "{constraint}"')
            function = f"{ref_name}_{column}"
            _ddl(
                f"""CREATE OR REPLACE FUNCTION {function}_added() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    missing text;
BEGIN
    PERFORM 1 FROM "{table}" WHERE "{key}" IN (SELECT DISTINCT "{column}" FROM added) FOR KEY SHARE;
    SELECT a."{column}" INTO missing FROM added AS a WHERE a."{column}" IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM "{table}" AS r WHERE r."{key}" = a."{column}") LIMIT 1;
    IF FOUND THEN
        {refused.format(table=table, column=column)}
    END IF;
    RETURN NULL;
END
$f$"""  # nosec B608 - names from the models' metadata, no value
            )
            _ddl(
                f"""CREATE OR REPLACE FUNCTION {function}_changed() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    missing text := NEW."{column}";
BEGIN
    PERFORM 1 FROM "{table}" WHERE "{key}" = NEW."{column}" FOR KEY SHARE;
    IF NOT FOUND THEN
        {refused.format(table=table, column=column)}
    END IF;
    RETURN NULL;
END
$f$"""  # nosec B608 - names from the models' metadata, no value
            )
            for trigger, body in (
                (
                    f"{name}_{column}_added",
                    f'AFTER INSERT ON "{name}" REFERENCING NEW TABLE AS added FOR EACH STATEMENT '
                    f"EXECUTE FUNCTION {function}_added()",
                ),
                (
                    f"{name}_{column}_changed",
                    f'AFTER UPDATE OF "{column}" ON "{name}" FOR EACH ROW WHEN (NEW."{column}" IS NOT NULL '
                    f'AND NEW."{column}" IS DISTINCT FROM OLD."{column}") EXECUTE FUNCTION {function}_changed()',
                ),
            ):
                database.execute_sql(f'DROP TRIGGER IF EXISTS "{trigger}" ON "{name}"')
                database.execute_sql(f'CREATE TRIGGER "{trigger}" {body}')
        held_by = " OR ".join(
            f'EXISTS (SELECT 1 FROM "{m._meta.table_name}" WHERE "{c}" = OLD."{key}")'  # nosec B608
            for m, c in referencing
        )
        tables = {m._meta.table_name for m, _ in referencing}
        nonempty = " OR ".join(f'EXISTS (SELECT 1 FROM "{t}")' for t in sorted(tables))  # nosec B608
        _ddl(
            f"""CREATE OR REPLACE FUNCTION {ref_name}_kept() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF {nonempty} THEN
            RAISE EXCEPTION 'cannot truncate table "{table}": rows still reference it'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW."{key}" IS NOT DISTINCT FROM OLD."{key}" THEN
        RETURN NEW;
    END IF;
    IF {held_by} THEN
        RAISE EXCEPTION 'update or delete on table "{table}" violates a reference to it'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key ({key})=(%s) is still referenced.', OLD."{key}");
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$f$"""  # nosec B608 - names from the models' metadata, no value
        )
        for trigger, body in (
            (
                f"{table}_kept",
                f'BEFORE DELETE OR UPDATE OF "{key}" ON "{table}" FOR EACH ROW EXECUTE FUNCTION {ref_name}_kept()',
            ),
            (
                f"{table}_kept_whole",
                f'BEFORE TRUNCATE ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION {ref_name}_kept()',
            ),
        ):
            database.execute_sql(f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"')
            database.execute_sql(f'CREATE TRIGGER "{trigger}" {body}')


# The indexes schema 17 drops, by peewee's names (table_column…).
STEP_17_DROPPED = ("auditentry_hash", "case_id_number_item_code")


def _step_17(migrator: SchemaMigrator) -> None:
    """Schema 17: the audit hash not unique; the ID number's index holds what the open-cases look-up reads.

    An audit entry's hash covers its seq, which is unique: a second equal hash would be a SHA-256
    collision, and no query looks an entry up by its hash (the chain is walked by seq), so its
    unique index, a random key written per entry, guarded nothing. The (ID number, item) index of
    a case becomes (ID number, item, state, received at, receipt code): 两头受理's look-up of a
    batch's people (hub/duplicates._OPEN_CASES) reads the index alone, and a search by ID number
    keeps its prefix. Measured in docs/performance.md, "Schema: index costs of a synced batch".
    """
    Case._schema.create_indexes(safe=True)
    for name in STEP_17_DROPPED:
        database.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


def _ddl(sql: str) -> None:
    """A statement without parameters whose text has `%` of its own (plpgsql's format and RAISE)."""
    database.execute_sql(sql.replace("%", "%%"))


# Each step moves the schema from version n-1 to n; steps must be safe to re-run.
MIGRATIONS: dict[int, Callable[[SchemaMigrator], None]] = {
    2: _step_2,
    3: _step_3,
    4: _step_4,
    5: _step_5,
    6: _step_6,
    7: _step_7,
    8: _step_8,
    9: _step_9,
    10: _step_10,
    11: _step_11,
    12: _step_12,
    13: _step_13,
    14: _step_14,
    15: _step_15,
    16: _step_16,
    17: _step_17,
}
SCHEMA_VERSION = max(MIGRATIONS, default=1)


def current_version() -> int:
    """The schema version recorded in the database (0 for an empty one)."""
    got = schema_steps.recorded_version(SchemaMigration)
    if got:
        return got
    if not database.table_exists(Setting._meta.table_name):
        return 0
    # Databases made before the version table recorded their version as a setting.
    return int(settings.get("schema_version") or 1)


def migrate() -> tuple[int, int]:
    """Bring the database to SCHEMA_VERSION; returns (before, after). Safe to run twice."""
    with database.atomic():
        if is_postgres():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        before = current_version()
        if before > SCHEMA_VERSION:
            raise RuntimeError(f"数据库结构版本 {before} 比本软件（{SCHEMA_VERSION}）新，请先升级中心软件")
        # Only what a step names: tests/hub/test_schema_upgrade.py fails while an upgraded
        # database differs from a fresh one, so a new table or column comes with its step.
        schema_steps.run_steps(database.obj, SchemaMigration, ALL_MODELS, MIGRATIONS, before, SCHEMA_VERSION, now)
        if before == 0 and is_postgres():
            statement_references()  # a fresh database as step 16 leaves an upgraded one
        if not CatalogueVersion.select().exists():
            CatalogueVersion.create(
                version=DEFAULT_CATALOGUE["version"], data=DEFAULT_CATALOGUE, created_at=now(), note="默认目录"
            )
        settings.put("schema_version", str(SCHEMA_VERSION))
    return before, SCHEMA_VERSION
