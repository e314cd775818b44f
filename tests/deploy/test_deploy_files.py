"""The deploy/ files: install scripts linted and the Linux one run for real; configs agree with the code.

Docker is not available on the build machines, so the Dockerfile and compose file are parsed
and checked here, never built.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.production import gunicorn_options
from shared import protocol
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
SCRIPTS = [DEPLOY / "linux" / "install-node.sh", DEPLOY / "linux" / "install-hub.sh"]
DOCKER_INSTRUCTIONS = {
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
}


def _shellcheck() -> str:
    found = shutil.which("shellcheck")
    if not found:  # `make prereqs` installs it; a skip fails the run unless DAIBAN_ALLOW_SKIPS=1
        pytest.skip("shellcheck not installed (apt-get install -y shellcheck)")
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    done = subprocess.run([_shellcheck(), "--shell=sh", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def _install(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "source"
    if not source.exists():
        # A copy of the tree as shipped, so pip's in-tree build leaves the working tree alone.
        shutil.copytree(
            ROOT,
            source,
            ignore=shutil.ignore_patterns(
                ".venv", ".git", "build", "*.egg-info", "__pycache__", "tests", "bench", "instance", "var"
            ),
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "DAIBAN_"))}
    return subprocess.run(
        [
            "sh",
            str(SCRIPTS[0]),
            "--prefix",
            str(tmp_path / "prefix"),
            "--no-systemd",
            "--desktop-dir",
            str(tmp_path / "desktop"),
            "--python",
            sys.executable,
            "--source",
            str(source),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_install_node_into_a_fresh_prefix(tmp_path: Path) -> None:
    done = _install(tmp_path, "--port", "8799")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "安装完成" in done.stdout
    prefix = tmp_path / "prefix"
    daiban = prefix / "venv" / "bin" / "daiban"
    key = prefix / "data" / "node_key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    unit = (prefix / "systemd" / "daiban-node.service").read_text()
    assert f"ExecStart={daiban} node --dir {prefix / 'data'} run --host 127.0.0.1 --port 8799" in unit
    assert "@" not in unit, "every placeholder of the unit template is filled in"
    analyze = shutil.which("systemd-analyze")
    if analyze:  # Debian CI images have it; it checks the unit's syntax and that ExecStart exists
        verify = subprocess.run(
            [analyze, "verify", str(prefix / "systemd" / "daiban-node.service")], capture_output=True, text=True
        )
        assert verify.returncode == 0, verify.stderr
    shortcut = (tmp_path / "desktop" / "daiban-node.desktop").read_text()
    assert "Exec=xdg-open http://127.0.0.1:8799/" in shortcut
    # The installed software is self-contained: it runs from its own venv, not from this tree.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "DAIBAN_"))}
    doctor = subprocess.run(
        [str(daiban), "node", "--dir", str(prefix / "data"), "doctor", "--offline"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert doctor.returncode == 1
    assert "尚未注册" in doctor.stdout


@pytest.mark.slow
def test_install_node_again_upgrades_and_keeps_the_key(tmp_path: Path) -> None:
    assert _install(tmp_path).returncode == 0
    key = tmp_path / "prefix" / "data" / "node_key.pem"
    before = key.read_bytes()
    again = _install(tmp_path)
    assert again.returncode == 0
    assert "保留原数据" in again.stdout
    assert key.read_bytes() == before


def test_nginx_limits_match_the_protocol() -> None:
    conf = (DEPLOY / "hub" / "nginx-daiban.conf").read_text()
    size = re.search(r"client_max_body_size\s+(\d+)([km]?);", conf)
    assert size is not None
    factor = {"": 1, "k": 1024, "m": 1024 * 1024}[size.group(2)]
    assert int(size.group(1)) * factor == protocol.MAX_BODY_BYTES
    assert "ssl_certificate " in conf
    assert "X-Forwarded-Proto" in conf
    assert "proxy_pass http://daiban_hub;" in conf


def test_systemd_units_run_gunicorn_workers_and_one_scheduler(tmp_path: Path) -> None:
    web = (DEPLOY / "hub" / "daiban-hub.service").read_text()
    sched = (DEPLOY / "hub" / "daiban-scheduler.service").read_text()
    analyze = shutil.which("systemd-analyze")
    if analyze:  # with our venv standing in for /opt/daiban-hub/venv: no unknown keys, executables exist
        units = []
        for name, text in (("daiban-hub.service", web), ("daiban-scheduler.service", sched)):
            units.append(tmp_path / name)
            units[-1].write_text(text.replace("/opt/daiban-hub/venv", sys.prefix))
        verify = subprocess.run([analyze, "verify", *map(str, units)], capture_output=True, text=True)
        assert verify.returncode == 0, verify.stderr
        assert not verify.stderr.strip(), verify.stderr
    assert '"hub:create_app()"' in web
    assert "--workers ${GUNICORN_WORKERS}" in web
    assert "ExecStartPre=/opt/daiban-hub/venv/bin/daiban hub migrate" in web
    assert "ExecStart=/opt/daiban-hub/venv/bin/daiban hub scheduler" in sched
    assert "RestartPreventExitStatus=3" in sched
    for unit in (web, sched):
        assert "EnvironmentFile=/etc/daiban/hub.env" in unit
        assert "User=daiban" in unit
    logrotate = (DEPLOY / "hub" / "logrotate-daiban").read_text()
    assert "/var/log/daiban/hub-*.log" in logrotate
    assert "USR1" in logrotate


def test_container_runs_gunicorn_as_the_unit_does() -> None:
    """Sync admission needs gthread workers: the image and the unit must serve the same way."""
    unit = gunicorn_options((DEPLOY / "hub" / "daiban-hub.service").read_text())
    cmd = next(x for x in (DEPLOY / "Dockerfile").read_text().splitlines() if x.startswith("CMD "))
    image = gunicorn_options(cmd)
    for option in ("--worker-class", "--threads", "--timeout", "--graceful-timeout"):
        assert image.get(option) == unit.get(option), option
    assert unit["--worker-class"] == "gthread"
    assert int(unit["--threads"]) > 1
    env = dict(re.findall(r"^([A-Z_]+)=(.*)$", (DEPLOY / "hub" / "hub.env.example").read_text(), re.M))
    # The hub's sync slots are shared by its workers, one per worker (the storm's connection budget);
    # one worker runs fewer syncs than it has threads, so a spare thread answers 429 at once.
    assert env["DAIBAN_HUB_SYNC_SLOTS"] == env["GUNICORN_WORKERS"]
    assert 1 <= int(env["DAIBAN_HUB_SYNC_MAX_IN_FLIGHT"]) < int(unit["--threads"])
    docker = (DEPLOY / "Dockerfile").read_text()
    assert f"DAIBAN_HUB_SYNC_MAX_IN_FLIGHT={env['DAIBAN_HUB_SYNC_MAX_IN_FLIGHT']}" in docker
    assert "DAIBAN_HUB_SYNC_SLOTS=${DAIBAN_HUB_SYNC_SLOTS:-${GUNICORN_WORKERS:-4}}" in cmd


def test_env_template_names_only_settings_the_hub_reads() -> None:
    env = (DEPLOY / "hub" / "hub.env.example").read_text()
    names = re.findall(r"^DAIBAN_HUB_([A-Z_]+)=", env, re.M)
    assert names
    code = "\n".join(p.read_text() for p in (ROOT / "hub").glob("*.py"))
    for name in names:
        if name != "DIR":
            assert f'"{name}"' in code, f"DAIBAN_HUB_{name} is in the template but the hub never reads {name}"
    assert "DATABASE_URL=postgresql://" in env
    assert "CHANGE-ME" in env  # a template, never a real secret


def test_dockerfile_and_compose_parse() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    logical, buf = [], ""
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        buf += line.rstrip("\\") + " "
        if not line.endswith("\\"):
            logical.append(buf.strip())
            buf = ""
    assert not buf, "dangling line continuation"
    words = [line.split()[0] for line in logical]
    assert set(words) <= DOCKER_INSTRUCTIONS, set(words) - DOCKER_INSTRUCTIONS
    assert words[0] == "FROM"
    assert "USER daiban" in logical
    assert any("HEALTHCHECK" in x for x in logical)
    for line in logical:
        if line.startswith("COPY ") and "--from" not in line:
            for src in line.split()[1:-1]:
                assert src.endswith("*") or (ROOT / src).exists(), src
    assert "hub:create_app()" in logical[-1]

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "hub", "scheduler"}
    assert services["scheduler"]["command"] == ["daiban", "hub", "scheduler"]
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert services["hub"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["hub"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "postgresql://" in services["hub"]["environment"]["DATABASE_URL"]


def test_windows_installer_structure() -> None:
    """No PowerShell here (PSScriptAnalyzer runs where pwsh exists); check what can be checked without it."""
    text = (DEPLOY / "windows" / "install.ps1").read_text(encoding="utf-8")
    stripped = re.sub(r'"(?:`.|[^"`])*"', '""', re.sub(r"<#.*?#>", "", text, flags=re.S))
    stripped = re.sub(r"#.*", "", stripped)
    for open_, close in ("{}", "()", "[]"):
        assert stripped.count(open_) == stripped.count(close), f"unbalanced {open_}{close}"
    assert "[CmdletBinding()]" in text
    assert '$ErrorActionPreference = "Stop"' in text
    for needed in (
        "Register-ScheduledTask",
        "New-ScheduledTaskTrigger -AtStartup",
        "nssm.exe install",
        "--host 127.0.0.1",
        "http://127.0.0.1:$Port/",
        "CommonDesktopDirectory",
        "-m venv",
        "node --dir $DataDir init",
    ):
        assert needed in text, needed
    pwsh = shutil.which("pwsh")
    if pwsh:
        done = subprocess.run(
            [
                pwsh,
                "-NoProfile",
                "-Command",
                f"Invoke-ScriptAnalyzer -Path '{DEPLOY / 'windows' / 'install.ps1'}' -Severity Error",
            ],
            capture_output=True,
            text=True,
        )
        assert done.stdout.strip() == "", done.stdout
