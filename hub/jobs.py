"""The hub's scheduled jobs, run by ONE scheduler process (`daiban hub scheduler`, hub/scheduler.py).

Jobs are module-level functions that open their own database connection; every run is
recorded (JobRun: when, which pid, how it went) so the operator and /metrics can see them.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from datetime import timedelta
from typing import Any, Callable

from . import deadlines, figures, settings
from .clock import now, today
from .db import database
from .models import JobRun
from .sweep import run_sweep

log = logging.getLogger("daiban.hub.jobs")

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


def sweep_job() -> dict[str, int]:
    """Recolour open cases against their deadlines."""
    with database.connection_context():
        counts = run_sweep()
    log.info("deadline sweep: %s", counts)
    return counts


def daily_figures_job() -> dict[str, Any]:
    """Store yesterday's month-to-date figures, so the township keeps a day-by-day record."""
    day = today() - timedelta(days=1)
    with database.connection_context():
        rows = figures.load_rows(day.replace(day=1), day)
        fig = figures.summarise(rows, deadlines.calendar(), day).as_dict()
        value = json.dumps(
            {"day": day.isoformat(), "at": now().isoformat(timespec="seconds"), **fig}, ensure_ascii=False
        )
        key = f"figures:{day.isoformat()}"
        settings.put(key, value)
    log.info("daily figures for %s stored", day)
    return fig


def run_recorded(name: str, fn: Callable[[], object]) -> JobRun:
    """Run fn as job `name`, leaving a JobRun row saying when, where (pid) and how it went."""
    with database.connection_context():
        run = JobRun.create(job=name, started_at=now(), pid=os.getpid())
        try:
            result = fn()
        except Exception:  # a failing job is recorded and logged; the scheduler carries on
            run.detail = traceback.format_exc()[-2000:]
            log.exception("job %s failed", name)
        else:
            run.ok = True
            run.detail = "" if result is None else str(result)[:2000]
        run.finished_at = now()
        run.save()
    return run


def heartbeat() -> str:
    """Proves the scheduler is alive (its rows are what the operator and /metrics look at)."""
    return "ok"


def nightly_backup() -> str:
    """Take the nightly hub backup into DATA_DIR/backups with retention."""
    from flask import current_app

    from .backup import backup

    path = backup(
        current_app.config["DATA_DIR"],
        current_app.config.get("DATABASE_URL"),
        keep=int(current_app.config.get("BACKUP_KEEP", 14)),
    )
    return str(path)
