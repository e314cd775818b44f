"""What `daiban hub doctor` and `daiban node doctor` print: findings in plain Chinese and an exit code."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any, Callable, TextIO


@dataclass(frozen=True)
class Finding:
    """One check's verdict: ok, warn (worth knowing) or problem (must be fixed)."""

    check: str
    level: str
    message: str

    def line(self) -> str:
        """The finding as the operator reads it."""
        mark = {"ok": "[正常]", "warn": "[注意]", "problem": "[需处理]"}[self.level]
        return f"{mark} {self.check}：{self.message}"


def check_disk(data_dir: Path, min_free: int, low_free: int, advice: str) -> Finding:
    """Free space where the data lives: a problem below min_free (with what to do), a warning below low_free."""
    free = shutil.disk_usage(data_dir).free
    if free < min_free:
        return Finding("磁盘", "problem", f"磁盘只剩 {free // 2**20} MB；{advice}")
    if free < low_free:
        return Finding("磁盘", "warn", f"磁盘剩余 {free // 2**20} MB，偏少")
    return Finding("磁盘", "ok", f"磁盘剩余 {free // 2**30} GB")


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
            out.append(Finding(name, "problem", f"检查时出错：{exc}"))
    return out


def report(findings: list[Finding], stream: TextIO | None = None) -> int:
    """Print the findings and a summary; returns the exit code (1 when anything needs fixing)."""
    out = stream or sys.stdout
    for f in findings:
        print(f.line(), file=out)
    problems = sum(1 for f in findings if f.level == "problem")
    warnings = sum(1 for f in findings if f.level == "warn")
    if problems:
        print(f"共 {problems} 项需要处理", file=out)
    elif warnings:
        print(f"检查完毕，{warnings} 项需要注意", file=out)
    else:
        print("检查完毕，一切正常", file=out)
    return 1 if problems else 0
