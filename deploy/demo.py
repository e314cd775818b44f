"""`make demo`: all three levels on SQLite: a county hub on :8690, the township hub on :8700
enrolled with it, and two village nodes on :8701/:8702 enrolled with the township.

The township's scheduler runs too, so what the township passes up (报县级) reaches the county and
the county's answer comes back within a minute. Stops everything cleanly on Ctrl-C. Data lives in
var/demo/ (delete it to start over).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path(os.environ.get("DAIBAN_DEMO_DIR", ROOT / "var" / "demo"))
PORT = int(os.environ.get("DAIBAN_DEMO_PORT", "8700"))
DAIBAN = [sys.executable, "-m", "shared.cli"]
VILLAGES = [("node1", "桃源村", PORT + 1), ("node2", "李家村", PORT + 2)]
HUB_PORT = PORT
COUNTY_PORT = PORT - 10  # 8690 beside the township's 8700
TOWNSHIP = "青山镇"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a daiban command, echoing failures."""
    res = subprocess.run([*DAIBAN, *args], capture_output=True, text=True, cwd=ROOT)
    if check and res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit(f"命令失败：daiban {' '.join(args)}")
    return res


def wait(url: str, proc: subprocess.Popen) -> None:
    """Poll until the service answers."""
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"进程意外退出：{url}（日志见 {DEMO}）")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"服务未能启动：{url}")


def start(kind: str, data_dir: Path, port: int) -> subprocess.Popen:
    """Start a hub or node server process logging to its data dir."""
    log = open(data_dir / f"{kind}.log", "ab")
    proc = subprocess.Popen(
        [*DAIBAN, kind, "--dir", str(data_dir), "run", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    wait(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def add_users(hub_dir: Path, port: int, title: str, users: list[tuple[str, str, str, str]]) -> list[str]:
    """Create the demo accounts of one hub; their login lines."""
    lines = []
    for user, name, role, windows in users:
        pw = secrets.token_urlsafe(9)
        run(
            "hub",
            "--dir",
            str(hub_dir),
            "add-user",
            user,
            "--name",
            name,
            "--role",
            role,
            "--windows",
            windows,
            "--password",
            pw,
        )
        lines.append(f"  {title} http://127.0.0.1:{port}/  {name}（{role}）  用户名 {user}  密码 {pw}")
    return lines


def scheduler(hub_dir: Path) -> subprocess.Popen:
    """The township hub's job runner: deadline sweeps, and the county sync every 30 seconds for the demo."""
    log = open(hub_dir / "scheduler.log", "ab")
    return subprocess.Popen(
        [*DAIBAN, "hub", "--dir", str(hub_dir), "scheduler"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "DAIBAN_HUB_SCHEDULER_COUNTY_SECONDS": "30"},
    )


def main() -> None:
    """Set up once, then run until Ctrl-C."""
    county_dir, hub_dir = DEMO / "county", DEMO / "hub"
    logins: list[str] = []
    if not county_dir.exists():
        county_dir.mkdir(parents=True)
        run("hub", "--dir", str(county_dir), "init", "--level", "county")
        logins += add_users(
            county_dir,
            COUNTY_PORT,
            "县级中心",
            [("admin", "县管理员", "admin", ""), ("li", "李科长", "staff", "W09,W10")],
        )
    if not hub_dir.exists():
        hub_dir.mkdir(parents=True)
        run("hub", "--dir", str(hub_dir), "init")
        logins += add_users(
            hub_dir,
            HUB_PORT,
            "中心",
            [
                ("admin", "管理员", "admin", ""),
                ("jiang", "蒋主任", "supervisor", ""),
                ("wang", "王芳", "staff", "W05,W10"),
                ("zhou", "周建国", "staff", "W09"),
            ],
        )
    procs = [start("hub", county_dir, COUNTY_PORT), start("hub", hub_dir, HUB_PORT)]
    try:
        if not (hub_dir / "county-uplink" / "uplink.sqlite3").exists():
            code = run("hub", "--dir", str(county_dir), "enroll-code", "--village", TOWNSHIP).stdout.strip()
            run(
                "hub",
                "--dir",
                str(hub_dir),
                "county-enroll",
                "--county",
                f"http://127.0.0.1:{COUNTY_PORT}",
                "--code",
                code,
            )
        procs.append(scheduler(hub_dir))
        for name, village, port in VILLAGES:
            ndir = DEMO / name
            if not (ndir / "node.sqlite3").exists():
                ndir.mkdir(parents=True, exist_ok=True)
                out = run("node", "--dir", str(ndir), "init").stdout
                token = out.split("API token: ")[1].split()[0]
                code = run("hub", "--dir", str(hub_dir), "enroll-code", "--village", village).stdout.strip()
                run("node", "--dir", str(ndir), "enroll", "--hub", f"http://127.0.0.1:{HUB_PORT}", "--code", code)
                pw = secrets.token_urlsafe(9)
                run("node", "--dir", str(ndir), "add-clerk", "clerk", "--name", f"{village}代办员", "--password", pw)
                logins.append(f"  {village} http://127.0.0.1:{port}/  代办员  用户名 clerk  密码 {pw}")
                logins.append(f"  {village} API token（自动化用）：{token}")
            procs.append(start("node", ndir, port))
        print("代办演示已启动（Ctrl-C 停止）：", flush=True)
        print(f"  县级中心  http://127.0.0.1:{COUNTY_PORT}/   报县级事项 http://127.0.0.1:{COUNTY_PORT}/county/")
        print(f"  乡镇中心（{TOWNSHIP}）  http://127.0.0.1:{HUB_PORT}/   群众查询 http://127.0.0.1:{HUB_PORT}/status")
        for _, village, port in VILLAGES:
            print(f"  {village}  http://127.0.0.1:{port}/")
        saved = DEMO / "logins.txt"
        if logins:
            with open(os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a", encoding="utf-8") as fh:
                fh.write("\n".join(logins) + "\n")
        print(f"演示账号（另存于 {saved}，删除 {DEMO} 可重新生成）：")
        print(saved.read_text(encoding="utf-8") if saved.exists() else "", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("有进程意外退出，正在停止其余进程", file=sys.stderr)
    except KeyboardInterrupt:
        print("\n正在停止……")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        print("已停止。")


if __name__ == "__main__":
    main()
