"""The `daiban` command's help in one language: Chinese by default, English when the locale asks.

The CLI's own words (command docstrings, option help, prompts) are written in Chinese, as the msgids
of the app that owns the command (`daiban hub …` from the hub's catalogue, `daiban node …` from the
node's); `make messages` collects them from the command tree (see `add_to_pot`), so a new command or
option is in the catalogue without marking it by hand. At run time English replaces them in place.

click's own words ("Usage:", "Options", "Show this message and exit.") come through Python's
gettext; click ships no catalogue, so under a Chinese locale they are said in Chinese from `CLICK_ZH`.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from shared.msgid import Said, recognised

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Sub-command groups and the app whose catalogue holds their words; the top-level group is in both.
APPS = ("hub", "node")
# Attributes of commands and parameters that a person reads in --help or at a prompt.
COMMAND_TEXTS = ("help", "short_help", "epilog")
PARAM_TEXTS = ("help", "prompt")

# click's words in Chinese (click 8's msgids; a msgid missing here is shown in English).
CLICK_ZH = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "位置参数",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本并退出。",
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "Confirm the action without prompting.": "不询问，直接执行。",
    "Do you want to continue?": "是否继续？",
    "default: {default}": "默认：{default}",
    "required": "必填",
    "env var: {var}": "环境变量：{var}",
    "deprecated": "已弃用",
    "Aborted!": "已取消！",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "运行 '{command} {option}' 查看帮助。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "Missing command.": "缺少命令。",
    "Missing option": "缺少选项",
    "Missing argument": "缺少参数",
    "Missing parameter": "缺少参数",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带值。",
    "Repeat for confirmation": "再输入一次以确认",
    "Error: The two entered values do not match.": "错误：两次输入不一致。",
    "Error: invalid input": "错误：输入无效",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "file": "文件",
    "directory": "目录",
    "path": "路径",
}
CLICK_ZH_PLURAL = {
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 需要 {nargs} 个值。",
}


def cli_language(environ: dict[str, str] | None = None) -> str:
    """ "en" when DAIBAN_LANG, else the POSIX locale (LC_ALL, LC_MESSAGES, LANG, first set wins), starts with
    "en"; Chinese otherwise, as the apps default to Chinese whatever the machine's locale."""
    env = os.environ if environ is None else environ
    for name in ("DAIBAN_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        if value := env.get(name):
            return "en" if value.lower().startswith("en") else "zh_CN"
    return "zh_CN"


def commands(
    cmd: click.Command, path: str = "daiban", only: set[str] | None = None
) -> Iterator[tuple[str, click.Command]]:
    """(path, command) for a command and every sub-command under it: "daiban hub backup".

    The installed `hub`/`node` groups load when asked for (shared.cli): `only` names the ones to load
    under the top level, so a node's process still does not import the hub's commands."""
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in sorted(cmd.list_commands(ctx)):
            if only is not None and name not in only:
                continue
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                yield from commands(sub, f"{path} {name}")


def said_help(top: click.Group, only: set[str] | None = None) -> None:
    """Each command's help for people (shared.cli_help), in Chinese, in place of its developer docstring."""
    from shared.cli_help import HELP

    for path, cmd in commands(top, only=only):
        if path in HELP:
            cmd.help, cmd.short_help = HELP[path], None


def texts(cmd: click.Command) -> Iterator[tuple[Any, str, str]]:
    """(object, attribute, Chinese text) for every readable text of a command and its sub-commands."""
    for attr in COMMAND_TEXTS:
        value = getattr(cmd, attr, None)
        if isinstance(value, str) and CJK.search(value):
            yield cmd, attr, value
    for param in cmd.params:
        for attr in PARAM_TEXTS:
            value = getattr(param, attr, None)
            if isinstance(value, str) and CJK.search(value):
                yield param, attr, value
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            yield from texts(sub)


def _top_texts(top: click.Group) -> Iterator[tuple[Any, str, str]]:
    """The top-level group's own texts, without its sub-command groups'."""
    bare = click.Command(top.name, params=top.params, help=top.help, epilog=top.epilog, short_help=top.short_help)
    return ((top if obj is bare else obj, attr, text) for obj, attr, text in texts(bare))


def _catalogue(app: str) -> Any:
    from babel.support import Translations

    folder = Path(importlib.import_module(app).__file__ or "").parent / "translations"
    return Translations.load(str(folder), ["en"], "messages")


@functools.cache
def _words(app: str) -> Any:
    return _catalogue(app)


class CliWords:
    """`_` for what a command prints (results, refusals, findings), in the locale's one language.

    Its words are msgids of the app that owns the command, so `make messages` finds them as it finds
    the pages' (`_("已备份：%(path)s", path=p)`). A marked word made elsewhere (a `Said` refusal, a state
    label from shared.msgid.N_) is said again the same way, its parameters too, as shared.i18n.tr does
    on a page; anything else (names, data) is printed as it is.
    """

    def __init__(self, app: str):
        self.app = app

    def __call__(self, message: str | BaseException, /, **params: Any) -> str:
        if isinstance(message, BaseException):  # a refusal raised with its marked sentence
            said = message.args[0] if len(message.args) == 1 else None
            message = said if isinstance(said, str) else str(message)
        if isinstance(message, Said) and not params:
            params = message.params
            message = message.template
        english = cli_language() == "en"
        text = _words(self.app).gettext(message) if english and message else message
        if not params:
            again = recognised(message, _words(self.app)) if english and text == message else None
            return self(again) if again is not None else text
        return text % {k: self(v) if isinstance(v, str) and english else v for k, v in params.items()}


def to_english(top: click.Group, only: set[str] | None = None) -> None:
    """Put every Chinese text of the tree in English, each from the catalogue of the app that owns it."""
    ctx = click.Context(top)
    for app in APPS:
        group = top.get_command(ctx, app) if only is None or app in only else None
        if group is not None:
            words = _catalogue(app)
            for obj, attr, text in texts(group):
                setattr(obj, attr, words.gettext(text))
    words = _catalogue(APPS[0])
    for obj, attr, text in _top_texts(top):
        setattr(obj, attr, words.gettext(text))


class _ClickChinese:
    """click's gettext, in Chinese."""

    @staticmethod
    def gettext(message: str) -> str:
        return CLICK_ZH.get(message, message)

    @staticmethod
    def ngettext(singular: str, plural: str, n: int) -> str:
        message = singular if n == 1 else plural
        return CLICK_ZH_PLURAL.get(message, message)


def click_words(chinese: bool) -> None:
    """click's modules took `gettext`/`ngettext` at import: give them the Chinese words, or the originals back."""
    import gettext

    said = _ClickChinese.gettext if chinese else gettext.gettext
    plural = _ClickChinese.ngettext if chinese else gettext.ngettext
    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if callable(getattr(module, "_", None)):
                module._ = said  # type: ignore[attr-defined]
            if callable(getattr(module, "ngettext", None)):
                module.ngettext = plural  # type: ignore[attr-defined]


def localise(top: click.Group, environ: dict[str, str] | None = None, only: set[str] | None = None) -> str:
    """Make the command tree (the groups in `only`, or all) speak the locale's one language; returns it."""
    lang = cli_language(environ)
    said_help(top, only)
    for _, cmd in commands(top, only=only):
        # click keeps each command's --help option once made, in the words of that moment; the installed
        # groups are module objects that outlive one build(), so the option is made again in this language.
        cmd._help_option = None
    if lang == "en":
        to_english(top, only)
    else:
        click_defaults_in_chinese(top, only)
    click_words(chinese=lang != "en")
    return lang


def click_defaults_in_chinese(top: click.Group, only: set[str] | None = None) -> None:
    """The help click gave an option when it was declared (--version's), in Chinese."""
    for _, cmd in commands(top, only=only):
        for param in cmd.params:
            help_text = getattr(param, "help", None)
            if help_text in CLICK_ZH:
                param.help = CLICK_ZH[help_text]


def add_to_pot(app: str, pot: str) -> None:
    """`make messages`: add the Chinese texts of `daiban <app> …` (and of `daiban` itself) to the app's .pot."""
    from babel.messages.pofile import read_po, write_po

    from shared.cli import build

    top = build()
    said_help(top)
    with open(pot, "rb") as f:
        catalog = read_po(f)
    found = [text for _, _, text in texts(top.commands[app])] if app in top.commands else []
    found += [text for _, _, text in _top_texts(top)]
    for text in found:
        if text not in catalog:
            catalog.add(text, flags=["python-format"] if re.search(r"%\(\w+\)s", text) else [])
    with open(pot, "wb") as f:
        write_po(f, catalog, sort_by_file=False, omit_header=True)


if __name__ == "__main__":
    add_to_pot(sys.argv[1], sys.argv[2])
