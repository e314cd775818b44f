"""/metrics in Prometheus text format: sync counts and latency, queues per window, overdue, node health.

Counters live in the database (SyncStat), not in process memory, so every gunicorn worker
adds to the same figures and a scrape that lands on any worker sees the whole hub.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from datetime import datetime, timezone
from typing import Any, Iterable

import peewee
from flask import Blueprint, Flask, Response, current_app, g, request

from shared import states

from . import deadlines
from .db import database
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
    """Count one answered sync request (one upsert, shared by all workers)."""
    ms = int(seconds * 1000)
    SyncStat.insert(status=status, bucket=bucket_of(seconds), count=1, sum_ms=ms).on_conflict(
        conflict_target=[SyncStat.status, SyncStat.bucket],
        update={SyncStat.count: SyncStat.count + 1, SyncStat.sum_ms: SyncStat.sum_ms + ms},
    ).execute()


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


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _series(name: str, value: float, **labels: Any) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}"


def _family(name: str, kind: str, help_text: str, lines: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *lines]


def _ts(value: datetime | None) -> float:
    return value.replace(tzinfo=timezone.utc).timestamp() if value else 0.0


def render() -> str:
    """Every figure as Prometheus text exposition format 0.0.4."""
    out: list[str] = []
    stats = list(SyncStat.select())
    by_status: dict[int, int] = {}
    for s in stats:
        by_status[s.status] = by_status.get(s.status, 0) + s.count
    out += _family("daiban_sync_requests_total", "counter", "Sync requests answered, by HTTP status.",
                   [_series("daiban_sync_requests_total", n, status=st) for st, n in sorted(by_status.items())])
    per_bucket = [0] * len(LATENCY_BUCKETS)
    for s in stats:
        per_bucket[s.bucket] += s.count
    hist, running = [], 0
    for bound, n in zip(LATENCY_BUCKETS, per_bucket):
        running += n
        hist.append(_series("daiban_ingest_latency_seconds_bucket", running,
                            le="+Inf" if bound == math.inf else f"{bound:g}"))
    hist.append(_series("daiban_ingest_latency_seconds_sum", sum(s.sum_ms for s in stats) / 1000))
    hist.append(_series("daiban_ingest_latency_seconds_count", running))
    out += _family("daiban_ingest_latency_seconds", "histogram", "Time to answer a sync request.", hist)
    out += _family("daiban_batches_ingested_total", "counter", "Batches ingested from village nodes.",
                   [_series("daiban_batches_ingested_total", Batch.select().count())])
    events = NodeEvent.select(NodeEvent.result, peewee.fn.COUNT(NodeEvent.id).alias("n")).group_by(NodeEvent.result)
    out += _family("daiban_node_events_total", "counter", "Node events ingested, by result.",
                   [_series("daiban_node_events_total", e.n, result=e.result) for e in events])
    open_q = Case.state.not_in(sorted(states.TERMINAL))
    queues = Case.select(Case.window, peewee.fn.COUNT(Case.request_id).alias("n")).where(open_q).group_by(Case.window)
    out += _family("daiban_open_cases", "gauge", "Open cases per service window (the queue).",
                   [_series("daiban_open_cases", q.n, window=q.window) for q in queues])
    out += _family("daiban_overdue_cases", "gauge", "Open cases past their deadline, per window.",
                   [_series("daiban_overdue_cases", n, window=w) for w, n in sorted(deadlines.overdue_by_window().items())])
    nodes = list(Node.select(Node, Village).join(Village))
    out += _family("daiban_node_last_sync_timestamp_seconds", "gauge", "When each village node last synced.",
                   [_series("daiban_node_last_sync_timestamp_seconds", _ts(n.last_sync_at), village=n.village.name,
                            status=n.status) for n in nodes])
    out += _family("daiban_node_pending_events", "gauge", "Events each node reported still queued.",
                   [_series("daiban_node_pending_events", n.pending_reported, village=n.village.name) for n in nodes])
    out += _family("daiban_node_clock_offset_seconds", "gauge", "Node clock minus hub clock.",
                   [_series("daiban_node_clock_offset_seconds", n.clock_offset_s, village=n.village.name)
                    for n in nodes if n.clock_offset_s is not None])
    out += _family("daiban_node_protocol_version", "gauge", "Protocol version each node last spoke.",
                   [_series("daiban_node_protocol_version", n.protocol_version, village=n.village.name)
                    for n in nodes if n.protocol_version is not None])
    out += _family("daiban_fork_alerts_open", "gauge", "Forks not yet resolved by the supervisor.",
                   [_series("daiban_fork_alerts_open", ForkAlert.select().where(~ForkAlert.resolved).count())])
    jobs = (JobRun.select(JobRun.job, peewee.fn.MAX(JobRun.finished_at).alias("last"))
            .where(JobRun.ok).group_by(JobRun.job))
    out += _family("daiban_job_last_success_timestamp_seconds", "gauge", "Last successful run of each hub job.",
                   [_series("daiban_job_last_success_timestamp_seconds", _ts(_as_dt(j.last)), job=j.job)
                    for j in jobs])
    return "\n".join(out) + "\n"


def _as_dt(value: Any) -> datetime | None:
    # MAX() over a datetime column comes back as text on SQLite.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@bp.get("/metrics")
def metrics() -> Response:
    """The figures for Prometheus; behind a bearer token when METRICS_TOKEN is set."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            return Response("需要监控令牌\n", status=401, mimetype="text/plain")
    with database.atomic():
        text = render()
    return Response(text, mimetype="text/plain; version=0.0.4; charset=utf-8")


def init_app(app: Flask) -> None:
    """Register /metrics and the sync timer."""
    app.register_blueprint(bp)
