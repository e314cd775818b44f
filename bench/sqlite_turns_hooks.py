"""gunicorn config for `bench.sqlite_turns` (``-c``): each worker times the SQLite writer's turn.

Loaded by gunicorn, not imported by the hub: after a worker loads the app it wraps hub/db.py's
`_WriterTurn.take` and `give` (the served tree's, `--chdir`'s for an older checkout) and the sync
counter (`hub.metrics.record_sync`), and every half second writes the worker's totals to
``$TURN_STATS_DIR/<pid>.json``: turns taken, seconds waited for them and held, and the part of both
that the sync counter's own transaction took.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

TOTALS = ("takes", "wait_s", "hold_s", "counter_wait_s", "counter_hold_s")


def post_worker_init(worker: Any) -> None:
    """gunicorn's hook, after the worker loaded the app: wrap the turn and write the totals on."""
    import hub.db as hub_db
    import hub.metrics as hub_metrics

    out = os.environ.get("TURN_STATS_DIR")
    if not out:
        return
    stats = dict.fromkeys(TOTALS, 0.0)
    lock, local = threading.Lock(), threading.local()
    take, give, record_sync = hub_db._WriterTurn.take, hub_db._WriterTurn.give, hub_metrics.record_sync

    def timed_take(self: Any, *args: Any, **kwargs: Any) -> bool:
        t0 = time.perf_counter()
        taken: bool = take(self, *args, **kwargs)
        local.since = time.perf_counter()
        counter = getattr(local, "counter", False)
        with lock:
            stats["takes"] += taken
            stats["wait_s"] += local.since - t0
            stats["counter_wait_s"] += (local.since - t0) * counter
        return taken

    def timed_give(self: Any) -> None:
        give(self)
        held = time.perf_counter() - getattr(local, "since", time.perf_counter())
        with lock:
            stats["hold_s"] += held
            stats["counter_hold_s"] += held * getattr(local, "counter", False)

    def counted(*args: Any, **kwargs: Any) -> None:
        local.counter = True
        try:
            record_sync(*args, **kwargs)
        finally:
            local.counter = False

    hub_db._WriterTurn.take, hub_db._WriterTurn.give = timed_take, timed_give  # type: ignore[method-assign]
    hub_metrics.record_sync = counted

    def write_on() -> None:
        path = os.path.join(out, f"{os.getpid()}.json")
        while True:
            time.sleep(0.5)
            with lock:
                text = json.dumps(stats)
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)

    threading.Thread(target=write_on, daemon=True).start()
