"""How production serves the hub, read from deploy/hub so a benchmark and the deploy files cannot drift.

The systemd unit's gunicorn command line gives the worker class, threads and timeouts; the env
template gives the worker count and the sync admission settings. A bench that means "as production
does" asks here instead of spelling the numbers again.
"""

from __future__ import annotations

import re
from pathlib import Path

from .harness import ROOT

DEPLOY_HUB = ROOT / "deploy" / "hub"
UNIT = DEPLOY_HUB / "daiban-hub.service"
ENV_TEMPLATE = DEPLOY_HUB / "hub.env.example"
# The unit's options that shape how requests meet workers; bind, logs and proxy trust are the host's.
SERVING_OPTIONS = ("--worker-class", "--threads", "--timeout", "--graceful-timeout")


def gunicorn_options(command: str) -> dict[str, str]:
    """gunicorn's --option value pairs in a command line (a unit's ExecStart or the image's CMD)."""
    words = command.replace("\\\n", " ").split()
    start = next(i for i, w in enumerate(words) if w.endswith("gunicorn"))
    return {w: words[i + 1] for i, w in enumerate(words[start:-1], start) if w.startswith("--")}


def env_template(path: Path = ENV_TEMPLATE) -> dict[str, str]:
    """The NAME=value lines the template sets (commented-out lines are defaults, not settings)."""
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", path.read_text(), re.M))


def workers() -> int:
    """The unit's --workers, as the template sets GUNICORN_WORKERS."""
    return int(env_template()["GUNICORN_WORKERS"])


def serving_args() -> list[str]:
    """The unit's gunicorn options that decide how requests are served, ready for a command line."""
    unit = gunicorn_options(UNIT.read_text())
    return [word for option in SERVING_OPTIONS if option in unit for word in (option, unit[option])]


def admission_env() -> dict[str, str]:
    """The template's sync admission settings (DAIBAN_HUB_SYNC_*), as the hub reads them from its environment."""
    return {name: value for name, value in env_template().items() if name.startswith("DAIBAN_HUB_SYNC_")}
