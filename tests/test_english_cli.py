"""One language per locale for the CLI: every `daiban` command's --help wholly in Chinese by default and
wholly in English when the locale (LANG/LC_ALL/LC_MESSAGES or DAIBAN_LANG) starts with "en",
click's own words ("Usage:", "Options") included. The command tree is walked, so a new command or
option is checked the day it lands."""

from __future__ import annotations

import copy
import os
import re
import subprocess  # nosec B404 - the real entry point, run as a person runs it
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from shared.cli import build
from shared.cli_help import HELP
from shared.cli_i18n import cli_language, click_words, commands, localise

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# English prose: two English words in a row (option names, metavars and command names are single tokens).
PROSE = re.compile(r"(?<![\w-])[A-Za-z]{2,} [a-z]{2,}(?![\w-])")
CLICK_WORDS = ("Usage:", "Options", "Commands", "Show this message", "default:", "required]")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _click_back_in_english() -> Iterator[None]:
    yield
    click_words(chinese=False)


def helps(environ: dict[str, str]) -> dict[str, str]:
    """Every command's --help, as `daiban` prints it under this environment."""
    top = copy.deepcopy(build())
    localise(top, environ)
    out = {}
    for path, _ in commands(top):
        result = CliRunner().invoke(top, [*path.split()[1:], "--help"], prog_name="daiban")
        assert result.exit_code == 0, (path, result.output)
        out[path] = result.output
    return out


def chinese_prose_left(text: str) -> list[str]:
    """English prose in a Chinese help: the usage line and option names are not prose."""
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    body = re.sub(r"(?m)^\s+(--?[\w-]+(?:, --?[\w-]+)*)(?: [A-Z_\[\]<=>|.0-9 -]+)?(?=\s)", " ", body)  # option, metavar
    return [m.group(0) for m in PROSE.finditer(body)]


@pytest.mark.parametrize(
    "environ,lang",
    [
        ({}, "zh_CN"),
        ({"LANG": "C.UTF-8"}, "zh_CN"),
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh_CN"),
        ({"DAIBAN_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"DAIBAN_LANG": "zh_CN", "LC_ALL": "en_US.UTF-8"}, "zh_CN"),
    ],
)
def test_the_locale_picks_one_language(environ: dict[str, str], lang: str) -> None:
    assert cli_language(environ) == lang


def test_every_command_has_help_for_people() -> None:
    paths = {path for path, cmd in commands(build())} - {"daiban", "daiban hub", "daiban node"}
    assert paths == set(HELP), "a new command: say what it does in shared/cli_help.py (and translate it)"


def test_every_help_is_wholly_chinese_by_default() -> None:
    found = {}
    for path, text in helps({"LANG": "C.UTF-8"}).items():
        assert CJK.search(text.split("\n\n", 2)[1]), (path, text)  # the description is Chinese
        left = [w for w in CLICK_WORDS if w in text] + chinese_prose_left(text)
        if left:
            found[path] = left
    assert not found, found


def test_every_help_is_wholly_english_under_an_english_locale() -> None:
    found = {}
    for path, text in helps({"LANG": "en_US.UTF-8"}).items():
        assert "Usage:" in text, text
        assert "Options:" in text, text
        if CJK.search(text):
            found[path] = CJK.findall(text)
    assert not found, found


@pytest.mark.parametrize(
    "lang,words,absent",
    [
        (
            "en_US.UTF-8",
            ("Usage: daiban hub", "Township centre (hub) administration commands.", "Show this message"),
            "用法",
        ),
        ("zh_CN.UTF-8", ("用法： daiban hub", "乡镇中心（hub）管理命令。", "显示本帮助并退出。"), "Usage"),
    ],
)
def test_the_installed_command_speaks_the_locale(lang: str, words: tuple[str, ...], absent: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "DAIBAN_LANG")}
    out = subprocess.run(
        [sys.executable, "-m", "shared.cli", "hub", "--help"],
        capture_output=True,
        text=True,  # nosec B603
        env={**env, "LANG": lang},
        cwd=ROOT,
        check=True,
        timeout=60,
    ).stdout
    assert all(w in out for w in words), out
    assert absent not in out, out


def test_a_click_error_is_in_the_locale_too() -> None:
    top = copy.deepcopy(build())
    localise(top, {"LANG": "zh_CN.UTF-8"})
    result = CliRunner().invoke(top, ["hub", "--nope"], prog_name="daiban")
    assert result.exit_code == 2
    assert "没有选项" in result.output
    assert "No such option" not in result.output
    assert isinstance(top, click.Group)


def run_as(lang: str, *args: str) -> subprocess.CompletedProcess:
    """`daiban …` as a person runs it, under one locale (and no database but the data directory's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "DATABASE_URL")}
    env.update({"LANG": "C.UTF-8", "DAIBAN_LANG": lang})
    return subprocess.run(  # nosec B603 - the real entry point
        [sys.executable, "-m", "shared.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_what_commands_print_is_in_the_locales_one_language(tmp_path: Path) -> None:
    """Results, findings, reports and refusals, not only --help: English wholly, Chinese by default."""
    hub, node = str(tmp_path / "hub"), str(tmp_path / "node")
    commands = [
        (("hub", "--dir", hub, "init"), 0),
        (("node", "--dir", node, "init"), 0),
        (("hub", "--dir", hub, "doctor"), 1),  # no scheduler has run: a finding to fix
        (("node", "--dir", node, "doctor", "--offline"), 1),  # not enrolled, no backup yet
        (("hub", "--dir", hub, "figures", "--from", "2026-01-01", "--to", "2026-11-30", "--by", "village"), 0),
        (("hub", "--dir", hub, "figures", "--from", "2026-13-01", "--to", "2026-11-30"), 2),  # bad input
        (("hub", "--dir", hub, "revoke", "--village", "nowhere"), 1),
        (("node", "--dir", node, "sync"), 1),  # not enrolled
        (("node", "--dir", node, "withdraw", "ZZZZZZZZZ", "--reason", "moved away"), 1),
        (("node", "--dir", node, "backup"), 0),
        (("hub", "--dir", hub, "verify-audit"), 0),
        (("hub", "--dir", hub, "county-status"), 1),  # not enrolled with a county
        (("hub", "--dir", hub, "county-queue"), 1),  # a township hub has no county queue
    ]
    for args, code in commands:
        english = run_as("en", *args)
        assert english.returncode == code, (args, english.stdout, english.stderr)
        said = english.stdout + english.stderr
        assert said.strip(), args
        assert not CJK.search(said), (args, CJK.findall(said), said)
    chinese = run_as("zh_CN", "node", "--dir", node, "doctor", "--offline")
    assert "[需处理] 密钥：本机尚未注册到乡镇中心" in chinese.stdout
    refused = run_as("zh_CN", "hub", "--dir", hub, "figures", "--from", "2026-13-01", "--to", "2026-11-30")
    assert "无法统计：" in refused.stderr
    english = run_as(
        "en", "hub", "--dir", hub, "figures", "--from", "2026-01-01", "--to", "2026-11-30", "--by", "village"
    )
    assert "Period: 2026-01-01 to 2026-11-30" in english.stdout
