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
        if not CatalogueVersion.select().exists():
            CatalogueVersion.create(
                version=DEFAULT_CATALOGUE["version"], data=DEFAULT_CATALOGUE, created_at=now(), note="默认目录"
            )
        settings.put("schema_version", str(SCHEMA_VERSION))
    return before, SCHEMA_VERSION
