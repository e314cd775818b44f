"""`make demo`: a county hub, the township hub enrolled with it and two enrolled nodes come up with logins
printed; the township's scheduler syncs with the county; Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

from tests import support


def test_demo_starts_three_services_and_stops_on_ctrl_c(tmp_path) -> None:
    # The county's port 10 below the township's, the villages' next to it: 13 consecutive free ports.
    base = support.free_ports(13)[10]
    env = {**os.environ, "DAIBAN_DEMO_DIR": str(tmp_path / "demo"), "DAIBAN_DEMO_PORT": str(base)}
    proc = subprocess.Popen(
        [sys.executable, "deploy/demo.py"],
        cwd=support.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "API token" in line and "李家村" in line:
                break
        out = "".join(lines)
        assert "代办演示已启动" in out, out
        assert "用户名 admin" in out, out
        assert "用户名 clerk" in out, out
        assert "县级中心" in out, out
        for port in (base - 10, base, base + 1, base + 2):
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
        nodes = [requests.get(f"http://127.0.0.1:{base + i}/healthz", timeout=5).json() for i in (1, 2)]
        assert all(n["enrolled"] for n in nodes)
        link = support.daiban("hub", "--dir", str(tmp_path / "demo" / "hub"), "county-status", check=False).stdout
        assert "已在县级中心注册：青山镇" in link, link
        deadline = time.monotonic() + 120  # the scheduler's first county round, which it runs at start
        while time.monotonic() < deadline:
            link = support.daiban("hub", "--dir", str(tmp_path / "demo" / "hub"), "county-status").stdout
            if "最近一次成功同步：从未" not in link:
                break
            time.sleep(1)
        assert "最近一次成功同步：20" in link, link
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)  # three processes shutting down on a loaded 2-core machine
    assert proc.returncode == 0
    assert "已停止" in rest
    for port in (base - 10, base, base + 1, base + 2):
        assert support.port_is_free(port)
