"""What an idle node keeps in memory: heavy modules load when first used, not at start.

Each of these was measured in docs/performance.md ("Node idle RSS"); a change that imports
one at start again shows up here as a module name, not as a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import support

# A clerk logs in and opens the list page; then the modules loaded are listed. The node runs under
# `daiban node run`, which keeps peewee from loading a PostgreSQL driver (psycopg 3 brings asyncio
# with it): the script does the same before anything imports peewee.
IDLE_CLERK = r"""
import json, re, sys
from node.cli import _without_postgres_drivers
_without_postgres_drivers()
from shared.cli import build
from click.testing import CliRunner
data = sys.argv[1]
CliRunner().invoke(build(), ["node", "--dir", data, "add-clerk", "li", "--name", "李文书", "--password", "correct-horse-9"],
                   catch_exceptions=False)
import node
app = node.create_app(data_dir=data)
client = app.test_client()
token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
assert client.post("/login", data={"username": "li", "password": "correct-horse-9", "csrf_token": token}).status_code == 302
assert client.get("/").status_code == 200
print(json.dumps(sorted(sys.modules)))
"""

LAZY = ("limits", "flask_limiter", "apscheduler", "segno", "requests", "hub.cli", "asyncio")


def _loaded(data: Path) -> set[str]:
    support.daiban("node", "--dir", str(data), "init")
    out = subprocess.run(
        [sys.executable, "-c", IDLE_CLERK, str(data)],
        capture_output=True,
        text=True,
        cwd=support.ROOT,
        timeout=120,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_clerks_first_page_loads_no_heavy_module(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path / "node")
    assert "node.views" in loaded or "node.requests_views" in loaded  # the pages really were built
    assert not {name for name in LAZY if name in loaded}


def test_the_running_node_maps_no_postgresql_driver(tmp_path: Path) -> None:
    node = support.Service("node", tmp_path / "node", support.free_port(), extra=["--no-sync"])
    node.data_dir.mkdir(parents=True)
    node.cli("init")
    node.start()
    try:
        maps = Path(f"/proc/{node.proc.pid}/maps").read_text()  # type: ignore[union-attr]
    finally:
        node.stop()
    assert "site-packages" in maps  # the map is the server's, with its libraries
    assert "psycopg" not in maps
