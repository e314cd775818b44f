"""The hub's scheduled jobs, run by ONE scheduler process (`daiban hub scheduler`), never per worker.

Jobs are module-level functions that open their own database connection, so APScheduler
can run them in its thread pool; coalesce=True and max_instances=1 mean a slow run is never
stacked on itself and missed runs collapse into one.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from . import deadlines, figures
from .clock import CHINA_TZ, now, today
from .db import database
from .models import Setting
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
        value = json.dumps({"day": day.isoformat(), "at": now().isoformat(timespec="seconds"), **fig},
                           ensure_ascii=False)
        key = f"figures:{day.isoformat()}"
        Setting.insert(key=key, value=value).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: value}).execute()
    log.info("daily figures for %s stored", day)
    return fig


def build_scheduler(sweep_minutes: int = 15, figures_hour: int = 1) -> BlockingScheduler:
    """The one scheduler: a sweep every N minutes (and at start), figures daily in the early morning."""
    scheduler = BlockingScheduler(timezone=CHINA_TZ, job_defaults=JOB_DEFAULTS)
    # First sweep at once: after a restart the colours should not wait a whole interval.
    scheduler.add_job(sweep_job, "interval", minutes=sweep_minutes, id="sweep", next_run_time=datetime.now(CHINA_TZ),
                      **JOB_DEFAULTS)
    scheduler.add_job(daily_figures_job, "cron", hour=figures_hour, minute=5, id="daily_figures", **JOB_DEFAULTS)
    return scheduler
