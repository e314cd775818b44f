"""The hub's scheduled jobs: module-level functions, each on its own connection, each run recorded."""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from typing import Callable

from .clock import now
from .db import database
from .models import JobRun

log = logging.getLogger("daiban.hub.jobs")


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


def sweep_deadlines() -> str:
    """Recolour deadlines and raise overdue cases, via hub.sweep.run_sweep when that module exists."""
    try:
        sweep = importlib.import_module("hub.sweep")
    except ModuleNotFoundError:
        return "hub.sweep not installed; nothing to sweep"
    return str(sweep.run_sweep())


def nightly_backup() -> str:
    """Take the nightly hub backup into DATA_DIR/backups with retention."""
    from flask import current_app

    from .backup import backup

    path = backup(current_app.config["DATA_DIR"], current_app.config.get("DATABASE_URL"),
                  keep=int(current_app.config.get("BACKUP_KEEP", 14)))
    return str(path)
