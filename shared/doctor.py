"""What `daiban hub doctor` and `daiban node doctor` print: findings in plain words and an exit code.

Findings are marked Chinese (shared.msgid.N_); the command says them in its locale's language."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any, Callable, TextIO
from shared.msgid import N_, as_marked


@dataclass(frozen=True)
class Finding:
    """One check's verdict: ok, warn (worth knowing) or problem (must be fixed)."""

    check: str
    level: str
    message: str

    def line(self, say: Callable[..., str] = as_marked) -> str:
        """The finding as the operator reads it, in the language of `say` (a gettext)."""
        mark = {"ok": N_("[正常]"), "warn": N_("[注意]"), "problem": N_("[需处理]")}[self.level]
        return say(
            N_("%(mark)s %(check)s：%(message)s"), mark=say(mark), check=say(self.check), message=say(self.message)
        )


def check_disk(data_dir: Path, min_free: int, low_free: int, advice: str) -> Finding:
    """Free space where the data lives: a problem below min_free (with what to do), a warning below low_free."""
    free = shutil.disk_usage(data_dir).free
    if free < min_free:
        return Finding(N_("磁盘"), "problem", N_("磁盘只剩 %(mb)s MB；%(advice)s", mb=free // 2**20, advice=advice))
    if free < low_free:
        return Finding(N_("磁盘"), "warn", N_("磁盘剩余 %(mb)s MB，偏少", mb=free // 2**20))
    return Finding(N_("磁盘"), "ok", N_("磁盘剩余 %(gb)s GB", gb=free // 2**30))


def key_too_open(key: Path) -> Finding | None:
    """A private key others may read is a problem with its fix (POSIX only); None when it is private."""
    if os.name != "posix" or not key.stat().st_mode & 0o077:
        return None
    return Finding(
        N_("密钥"),
        "problem",
        N_(
            "密钥文件权限过宽（%(mode)s）；请执行 chmod 600 %(key)s", mode=oct(key.stat().st_mode & 0o777), key=str(key)
        ),
    )


def run_isolated(
    checks: list[tuple[str, Callable[[], Finding]]], context: Callable[[], AbstractContextManager[Any]]
) -> list[Finding]:
    """Run every check inside its own `context()` (a database connection); one that crashes is itself a
    finding, so one failure never hides the others."""
    out = []
    for name, fn in checks:
        try:
            with context():
                out.append(fn())
        except Exception as exc:  # noqa: BLE001 - a check that crashes is itself a finding
            out.append(Finding(name, "problem", N_("检查时出错：%(error)s", error=str(exc))))
    return out


def report(findings: list[Finding], stream: TextIO | None = None, say: Callable[..., str] = as_marked) -> int:
    """Print the findings and a summary in the language of `say`; returns the exit code (1 when anything
    needs fixing)."""
    out = stream or sys.stdout
    for f in findings:
        print(f.line(say), file=out)
    problems = sum(1 for f in findings if f.level == "problem")
    warnings = sum(1 for f in findings if f.level == "warn")
    if problems:
        print(say(N_("共 %(count)s 项需要处理"), count=problems), file=out)
    elif warnings:
        print(say(N_("检查完毕，%(count)s 项需要注意"), count=warnings), file=out)
    else:
        print(say(N_("检查完毕，一切正常")), file=out)
    return 1 if problems else 0
