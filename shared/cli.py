"""The `daiban` console command; `hub` and `node` plug their command groups in by entry point."""

from __future__ import annotations

import sys

import functools
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Concatenate, ParamSpec, TypeVar

import click

GROUP = "daiban.commands"
# Set by main(): the command is this process (the console script), not a library call inside another
# program (a test's CliRunner), so a group may decide for the whole process what it loads.
_OWN_PROCESS = False

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class AppInfo:
    """What a `hub`/`node` group knows before any app exists (as Flask's ScriptInfo): the factory
    and the `--dir` given on the command line, passed to the factory as an argument."""

    import_name: str
    factory: Callable[..., Any]
    database: Any
    data_dir: str | None = None

    def load_app(self, pages: bool = True) -> Any:
        """Build the app for this command's data directory; without its pages (`pages=False`), as much
        as a command needs: configuration, database, keys and languages (hub/node `create_core_app`)."""
        return self.factory(data_dir=self.data_dir, pages=pages)

    def resolved_dir(self) -> str:
        """The data directory without building the app (restore must not hold the database open)."""
        if self.data_dir:
            return self.data_dir
        from flask import Flask

        return str(Flask(self.import_name, instance_relative_config=True).instance_path)


def own_process() -> bool:
    """Whether this process was started as the `daiban` command (main), to run one command and exit."""
    return _OWN_PROCESS


def without_postgres_drivers() -> None:
    """Keep peewee from loading a PostgreSQL driver into a process whose database is SQLite.

    peewee imports psycopg2 (or psycopg) whenever one is installed, as on a machine that also
    runs a hub: about 5 MB of the idle node's memory for nothing, and a sixth of a `daiban hub`
    command's start-up on SQLite (docs/performance.md). A None in sys.modules makes that import
    fail the way peewee expects when no driver is installed. Once peewee is loaded it is too late,
    and nothing is changed (a test process that has used PostgreSQL keeps it).
    """
    # typeshed does not admit the None that blocks an import, so sys.modules is seen as Any here.
    modules: Any = sys.modules
    if "peewee" not in modules:
        for name in ("psycopg2", "psycopg2cffi", "psycopg"):
            modules.setdefault(name, None)


def app_info() -> AppInfo:
    """The AppInfo of the running `hub`/`node` command."""
    info = click.get_current_context().find_object(AppInfo)
    if info is None:
        raise RuntimeError("command run outside a `daiban hub`/`daiban node` group")
    return info


def with_app(connect: bool = True, pages: bool = False) -> Callable[[Callable[Concatenate[Any, P], R]], Callable[P, R]]:
    """Decorate a command to receive the app as its first argument, inside an app context and
    (unless connect=False, for commands that open and close the database themselves) with
    the database connection open for the command's duration.

    The app is built without its pages unless `pages=True` (a server): each command is a process of
    its own, and importing the pages' modules was about half its start-up (docs/performance.md)."""

    def decorate(f: Callable[Concatenate[Any, P], R]) -> Callable[P, R]:
        @functools.wraps(f)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            info = app_info()
            app = info.load_app(pages=pages)
            with app.app_context():
                if not connect:
                    return f(app, *args, **kwargs)
                with info.database.connection_context():
                    return f(app, *args, **kwargs)

        return wrapper

    return decorate


class _Installed(click.Group):
    """The installed `hub`/`node` groups, each imported only when named: a village node's process
    does not carry the hub's command module (about 1.5 MB of its memory, docs/performance.md)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_installed()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _installed():
            self.add_command(_installed()[cmd_name].load(), name=cmd_name)
        return self.commands.get(cmd_name)


@functools.cache
def _installed() -> dict[str, Any]:
    """The installed groups' entry points by name, read once a process: each reading scans every
    installed distribution's metadata, and a command asked three or four times."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def build() -> click.Group:
    """The top-level group with every installed sub-command group attached."""

    @click.group(cls=_Installed)
    @click.version_option(package_name="daiban")
    def daiban() -> None:
        """代办（Daiban）：村级政务代办点离线同步系统。"""

    return daiban


def main() -> None:
    """Entry point of the `daiban` command, its help in the locale's one language (shared.cli_i18n)."""
    from shared.cli_i18n import localise

    global _OWN_PROCESS
    _OWN_PROCESS = True
    top = build()
    # Only the group named on the command line is loaded and localised (a node never imports the hub's commands).
    named = set(sys.argv[1:2]) & set(top.list_commands(click.Context(top)))
    localise(top, only=named or None)
    top(prog_name="daiban")


if __name__ == "__main__":
    # `python -m shared.cli` (as the tests run it): the main of the module the groups import by name, whose
    # own_process() they read, not this __main__ copy's.
    from shared.cli import main as console_main

    console_main()
