"""Node idle RSS alone, measured as bench/node_pc.py does (start, a login, the list page, 1 s),
repeated: `.venv/bin/python -m bench.node_idle [RUNS]` prints each run, the median and the load.
`.venv/bin/python -m bench.node_idle modules` prints what importing each heavy library adds to
a process that already holds Flask (median of 3 fresh processes each)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests import support

from .harness import load_average, median, rss_kb
from .node_pc import PASSWORD, clerk_session, cold_start


def run(runs: int = 5) -> dict[str, object]:
    """VmRSS of an idle `daiban node run --no-sync` after a login and the list page, `runs` times."""
    values = []
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        node = support.Service("node", Path(tmp) / "node", support.free_port(), extra=["--no-sync"])
        node.data_dir.mkdir(parents=True)
        assert re.search(r"API token: (\S+)", node.cli("init").stdout)
        node.cli("add-clerk", "bench", "--name", "李文书", "--password", PASSWORD)
        for _ in range(runs):
            cold_start(node)
            clerk_session(node.url).get(node.url + "/").raise_for_status()
            time.sleep(1)
            values.append(round(rss_kb(node.proc.pid) / 1024, 1))  # type: ignore[union-attr]
            node.stop()
    return {"idle_rss_mb": median(values), "runs": values, "load_avg": load_average()}


HEAVY = {
    "PostgreSQL driver (psycopg 3, loaded by peewee)": "import psycopg",
    "cryptography (Ed25519 keys)": "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey",
    "requests stack": "import requests",
    "Flask-Limiter + limits (with wrapt, asyncio)": "import flask_limiter, limits.strategies",
    "APScheduler, started (with asyncio, tzlocal)": "from apscheduler.schedulers.background import BackgroundScheduler; BackgroundScheduler(daemon=True).start()",
    "Babel dates and numbers + zh_CN data": "import babel.dates, babel.numbers; babel.Locale.parse('zh_CN').date_formats",
    "WTForms + Flask-WTF": "import flask_wtf, wtforms",
    "segno (QR codes)": "import segno",
    "msgspec": "import msgspec",
}
_PROBE = """
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1])
import flask, jinja2, werkzeug, sqlite3
before = rss()
{0}
print(rss() - before)
"""


def module_costs() -> dict[str, float]:
    """MB each heavy import adds on top of Flask, median of 3 fresh processes."""
    out = {}
    for name, statement in HEAVY.items():
        kb = [
            int(
                subprocess.run(
                    [sys.executable, "-c", _PROBE.format(statement)], capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(3)
        ]
        out[name] = round(median(kb) / 1024, 1)
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["modules"]:
        print(json.dumps(module_costs(), ensure_ascii=False, indent=1))
    else:
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
