"""/metrics in Prometheus text format: sync counts and latency, queues per window, overdue, node health.

Counters live in the database (SyncStat), not in process memory, so every gunicorn worker
adds to the same figures and a scrape that lands on any worker sees the whole hub; a
prometheus_client custom collector reads them at scrape time and writes the exposition.

The figures name villages, so /metrics answers only with the bearer token METRICS_TOKEN, or,
when no token is set, only to a client on this machine (loopback, not forwarded by a proxy).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import peewee
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from shared import states

from . import deadlines
from .db import compiled, database, is_postgres, pipelined
from .models import Batch, Case, ForkAlert, JobRun, Node, NodeEvent, SyncStat, Village

log = logging.getLogger("daiban.hub.metrics")

bp = Blueprint("metrics", __name__)

SYNC_PATH = "/api/v1/sync"
# Upper bounds of the ingest latency histogram, in seconds (the last bucket is +Inf).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)


def bucket_of(seconds: float) -> int:
    """Index of the first bucket whose bound holds this latency."""
    return next(i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound)


def record_sync(status: int, seconds: float) -> None:
    """Count one answered sync request (one upsert, shared by all workers).

    Every worker upserts the same (status, bucket) row, so each one waited for the previous one's
    WAL flush while holding the row: the syncs took turns on a counter. The counter is a figure for
    Prometheus, not a village's data, so on PostgreSQL it commits without waiting for the flush
    (a crash may lose the last few counts; the next durable commit flushes them anyway). SQLite's
    commit likewise skips its flush of the WAL (synchronous=NORMAL for this transaction alone): with
    FULL, each sync's answer waited ~3 ms for that flush and ~0.2 ms of CPU, beside the ingest's own
    durable commit (docs/performance.md, "Hub ingest, fourth pass").
    """
    ms = int(seconds * 1000)
    if is_postgres():
        # Its BEGIN, SET LOCAL, upsert and COMMIT in one round trip, not four.
        with pipelined(), database.atomic():
            database.execute_sql("SET LOCAL synchronous_commit TO OFF")
            _upsert_sync_stat(status, seconds, ms)
        return
    with _sqlite_unflushed(), database.atomic():
        _upsert_sync_stat(status, seconds, ms)


@contextlib.contextmanager
def _sqlite_unflushed() -> Iterator[None]:
    """SQLite's synchronous=NORMAL for the transaction begun inside, then the connection's own level again.

    In WAL mode such a commit is atomic and keeps the database whole; only a power cut may undo it
    (not a crash of the hub), and the next FULL commit flushes the WAL with it. SQLite changes the
    level only outside a transaction: inside one, the outer transaction's commit decides.
    """
    if database.in_transaction():
        yield
        return
    level = database.execute_sql("PRAGMA synchronous").fetchone()[0]
    database.execute_sql("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        database.execute_sql(f"PRAGMA synchronous = {int(level)}")


def _upsert_sync_stat(status: int, seconds: float, ms: int) -> None:
    bucket = bucket_of(seconds)

    def build() -> Any:
        return SyncStat.insert(status=status, bucket=bucket, count=1, sum_ms=ms).on_conflict(
            conflict_target=[SyncStat.status, SyncStat.bucket],
            update={SyncStat.count: SyncStat.count + 1, SyncStat.sum_ms: SyncStat.sum_ms + ms},
        )

    # Compiled once (every sync request counts itself); the order is checked on first use.
    params = [status, bucket, 1, ms, 1, ms]
    database.execute_sql(compiled(("metrics.sync_stat",), build, params), params)


@bp.before_app_request
def _start_timer() -> None:
    if request.path == SYNC_PATH:
        g.sync_started = time.perf_counter()


@bp.after_app_request
def _count_sync(resp: Response) -> Response:
    started = g.pop("sync_started", None)
    if started is not None:
        try:
            record_sync(resp.status_code, time.perf_counter() - started)
        except peewee.PeeweeException:  # figures must never cost a node its answer
            log.exception("could not record sync metrics")
    return resp


def _ts(value: datetime | None) -> float:
    return value.replace(tzinfo=UTC).timestamp() if value else 0.0


class DatabaseCollector(Collector):
    """Every figure read from the database at scrape time, so all workers report the same hub."""

    def collect(self) -> Iterator[Metric]:
        """The metric families, one query each."""
        stats = list(SyncStat.select())
        by_status: dict[int, int] = {}
        for s in stats:
            by_status[s.status] = by_status.get(s.status, 0) + s.count
        requests = CounterMetricFamily(
            "daiban_sync_requests_total", "Sync requests answered, by HTTP status.", labels=["status"]
        )
        for st, count in sorted(by_status.items()):
            requests.add_metric([str(st)], count)
        yield requests
        per_bucket = [0] * len(LATENCY_BUCKETS)
        for s in stats:
            per_bucket[s.bucket] += s.count
        buckets, running = [], 0
        for bound, count in zip(LATENCY_BUCKETS, per_bucket):
            running += count
            buckets.append(("+Inf" if bound == math.inf else f"{bound:g}", running))
        yield HistogramMetricFamily(
            "daiban_ingest_latency_seconds",
            "Time to answer a sync request.",
            buckets=buckets,
            sum_value=sum(s.sum_ms for s in stats) / 1000,
        )
        yield CounterMetricFamily(
            "daiban_batches_ingested_total", "Batches ingested from village nodes.", value=Batch.select().count()
        )
        events = CounterMetricFamily("daiban_node_events_total", "Node events ingested, by result.", labels=["result"])
        for result, count in (
            NodeEvent.select(NodeEvent.result, peewee.fn.COUNT(NodeEvent.id)).group_by(NodeEvent.result).tuples()
        ):
            events.add_metric([str(result)], count)
        yield events
        open_q = Case.state.not_in(sorted(states.TERMINAL))
        gauge = GaugeMetricFamily("daiban_open_cases", "Open cases per service window (the queue).", labels=["window"])
        for window, count in (
            Case.select(Case.window, peewee.fn.COUNT(Case.request_id)).where(open_q).group_by(Case.window).tuples()
        ):
            gauge.add_metric([str(window)], count)
        yield gauge
        # The one overdue rule (hub.deadlines.clock), as the queue, sweep and dashboard apply it.
        overdue = sorted(deadlines.overdue_by_window().items())
        gauge = GaugeMetricFamily(
            "daiban_overdue_cases", "Open cases past their deadline, per window.", labels=["window"]
        )
        for window, count in overdue:
            gauge.add_metric([str(window)], count)
        yield gauge
        nodes = list(Node.select(Node, Village).join(Village))
        gauge = GaugeMetricFamily(
            "daiban_node_last_sync_timestamp_seconds",
            "When each village node last synced.",
            labels=["village", "status"],
        )
        for node in nodes:
            gauge.add_metric([node.village.name, node.status], _ts(node.last_sync_at))
        yield gauge
        for name, help_text, attr in (
            ("daiban_node_pending_events", "Events each node reported still queued.", "pending_reported"),
            ("daiban_node_clock_offset_seconds", "Node clock minus hub clock.", "clock_offset_s"),
            ("daiban_node_protocol_version", "Protocol version each node last spoke.", "protocol_version"),
        ):
            gauge = GaugeMetricFamily(name, help_text, labels=["village"])
            for node in nodes:
                if getattr(node, attr) is not None:
                    gauge.add_metric([node.village.name], getattr(node, attr))
            yield gauge
        yield GaugeMetricFamily(
            "daiban_fork_alerts_open",
            "Forks not yet resolved by the supervisor.",
            value=ForkAlert.select().where(~ForkAlert.resolved).count(),
        )
        gauge = GaugeMetricFamily(
            "daiban_job_last_success_timestamp_seconds", "Last successful run of each hub job.", labels=["job"]
        )
        for job, last in (
            JobRun.select(JobRun.job, peewee.fn.MAX(JobRun.finished_at)).where(JobRun.ok).group_by(JobRun.job).tuples()
        ):
            gauge.add_metric([job], _ts(_as_dt(last)))
        yield gauge


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(DatabaseCollector())


def render() -> str:
    """Every figure as Prometheus text exposition format 0.0.4."""
    return generate_latest(REGISTRY).decode()


def _as_dt(value: Any) -> datetime | None:
    # MAX() over a datetime column comes back as text on SQLite.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _local_client() -> bool:
    """Whether the request comes from this machine and was not forwarded for someone else."""
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    try:
        addresses = [ipaddress.ip_address(a) for a in [request.remote_addr or "", *forwarded]]
    except ValueError:
        return False
    return all(a.is_loopback for a in addresses)


@bp.get("/metrics")
def metrics() -> Response:
    """The figures for Prometheus: with the bearer token METRICS_TOKEN, or from localhost when none is set."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            return Response("需要监控令牌\n", status=401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    elif not _local_client():
        return Response(
            "未设置监控令牌（METRICS_TOKEN）时，只有本机可以读取 /metrics\n", status=403, mimetype="text/plain"
        )
    with database.atomic():
        text = render()
    return Response(text, mimetype="text/plain; version=0.0.4; charset=utf-8")


def init_app(app: Flask) -> None:
    """Register /metrics and the sync timer."""
    app.register_blueprint(bp)
