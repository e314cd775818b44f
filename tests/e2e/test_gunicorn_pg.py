"""Production shape: gunicorn with several workers on PostgreSQL, one scheduler process, nodes syncing.

Shows the scheduler's jobs run in that one process only (JobRun rows carry the pid), a second
scheduler refuses to start, and /metrics reports what the workers did together.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import requests

from tests import support
from tests.deploy.helpers import capture, start_gunicorn, stop


def _rows(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def _poll(condition, timeout: float = 30.0) -> None:
    support.poll(condition, timeout)


def test_gunicorn_workers_on_postgres_with_one_scheduler(tmp_path: Path, pg_url: str) -> None:
    hub = support.make_hub(tmp_path, pg_url)
    hub.env.update(
        {"DAIBAN_HUB_PROXY_FIX": "1", "DAIBAN_HUB_LOG_FORMAT": "json", "DAIBAN_HUB_SCHEDULER_HEARTBEAT_SECONDS": "1"}
    )
    web = start_gunicorn(hub, workers=3)
    env = {**os.environ, **hub.env}
    cmd = [*support.DAIBAN, "hub", "--dir", str(hub.data_dir), "scheduler"]
    sched_log = open(tmp_path / "scheduler.log", "ab")
    sched = subprocess.Popen(cmd, stdout=sched_log, stderr=subprocess.STDOUT, env=env, cwd=support.ROOT)
    sched_log.close()  # the child holds its own descriptor
    try:
        _poll(lambda: _rows(pg_url, "SELECT count(*) FROM jobrun WHERE job = 'heartbeat'")[0][0] >= 1)
        second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=support.ROOT, timeout=60)
        assert second.returncode == 3
        assert "另一个调度进程正在运行" in second.stderr

        nodes = [
            support.make_node(tmp_path, f"n{i}", hub, village)[0] for i, village in enumerate(["桃源村", "杏花村"])
        ]
        for node in nodes:
            for name in ("王一", "王二"):
                capture(node, tmp_path, name)
        results: list[str] = []
        threads = [threading.Thread(target=lambda n=node: results.append(n.cli("sync").stdout)) for node in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(results) == 2
        assert all("同步完成" in r for r in results)
        assert _rows(pg_url, 'SELECT count(*) FROM "case"') == [(4,)]

        _poll(lambda: _rows(pg_url, "SELECT count(*) FROM jobrun WHERE job = 'heartbeat'")[0][0] >= 3)
        runs = _rows(pg_url, "SELECT job, pid, ok, finished_at IS NOT NULL, detail FROM jobrun")
        assert {pid for _, pid, *_ in runs} == {sched.pid}
        assert {job for job, *_ in runs} >= {"heartbeat", "sweep_deadlines"}
        # A run still going when the rows are read (the heartbeat runs every second) is not ok yet:
        # every run that finished is.
        assert [(job, detail) for job, _, ok, finished, detail in runs if finished and not ok] == []

        text = requests.get(hub.url + "/metrics", timeout=10).text
        syncs = [line for line in text.splitlines() if line.startswith('daiban_sync_requests_total{status="200"}')]
        assert syncs
        assert float(syncs[0].split()[-1]) >= 4  # hello + batch + poll per node, at least
        assert 'daiban_node_last_sync_timestamp_seconds{status="active",village="桃源村"}' in text
        assert "daiban_open_cases{window=" in text
        assert 'daiban_ingest_latency_seconds_bucket{le="+Inf"}' in text
        assert 'daiban_job_last_success_timestamp_seconds{job="heartbeat"}' in text
    finally:
        sched.terminate()
        sched.wait(15)
        stop(web)
    first = (tmp_path / "scheduler.log").read_text(encoding="utf-8").splitlines()
    logged = [json.loads(line) for line in first if line.startswith("{")]
    assert any(rec["logger"] == "daiban.hub.scheduler" and rec["pid"] == sched.pid for rec in logged)
