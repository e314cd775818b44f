"""The spine end to end with real processes: capture with the hub down, sync, decide, status back."""

from __future__ import annotations

import requests

from tests import support
from tests.factories import capture


def _capture(node: support.Service, token: str, item: str, **kw) -> str:
    resp = requests.post(
        f"{node.url}/api/v1/requests",
        json=capture(item, **kw),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["receipt_code"]


def _hub_cases(hub: support.Service) -> list[tuple[str, str, str]]:
    """(receipt_code, window, state) of every case, read from the hub's own database."""
    code = (
        "from hub import create_app; from hub.db import database; from hub.models import Case;"
        "create_app();\n"
        "with database.connection_context():\n"
        "    print('\\n'.join(f'{c.receipt_code} {c.window} {c.state}' for c in Case.select()))"
    )
    import subprocess
    import sys
    import os

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **hub.env, "DAIBAN_HUB_DIR": str(hub.data_dir)},
        cwd=support.ROOT,
    )
    return [tuple(line.split()) for line in out.stdout.splitlines() if line.strip()]  # type: ignore[misc]


def _run(tmp_path, database_url=None) -> None:
    hub = support.make_hub(tmp_path, database_url)
    hub.start()
    node, token = support.make_node(tmp_path, "n1", hub, "桃源村")
    hub.stop()
    node.extra = ["--no-sync"]  # this test drives sync itself, one round at a time
    node.start()
    try:
        fp = _capture(node, token, "FP-02")
        db = _capture(node, token, "DB-01", missing=["M-CHECK-AUTH"])
        jf = _capture(node, token, "JF-01")
        failed = node.cli("sync", check=False)
        assert failed.returncode == 1
        assert "无法连接" in failed.stderr
        hub.start()
        out = node.cli("sync").stdout
        assert "中心确认事件 3" in out
        rows = _hub_cases(hub)
        assert sorted(r[0] for r in rows) == sorted([fp, db, jf])  # each exactly once
        assert {r[0]: r[1] for r in rows} == {fp: "W10", db: "W05", jf: "W09"}
        hub.cli("act", fp, "accept")
        # db arrived with a material missing: 待补正 already, the village's one-time notice being the one notice.
        refused = hub.cli("act", db, "ask_materials", "--missing", "M-CHECK-AUTH", check=False)
        assert refused.returncode == 2
        assert "一次告知" in refused.stderr
        node.cli("sync")
        got = {
            c: requests.get(
                f"{node.url}/api/v1/requests/{c}", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ).json()
            for c in (fp, db, jf)
        }
        assert got[fp]["state"] == "accepted"
        assert got[fp]["deadline"]
        assert got[db]["state"] == "needs_materials"
        assert got[db]["missing_names"] == ["经济状况核对授权书"]
        assert got[jf]["state"] == "received"
        again = node.cli("sync").stdout
        assert "中心确认事件 0" in again
        assert len(_hub_cases(hub)) == 3
    finally:
        node.stop()
        hub.stop()


def test_spine_sqlite(tmp_path) -> None:
    _run(tmp_path)


def test_spine_postgresql(tmp_path) -> None:
    for url in support.pg_database():
        _run(tmp_path, url)
