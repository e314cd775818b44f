"""The `daiban` console command; `hub` and `node` plug their command groups in by entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import click

GROUP = "daiban.commands"


def build() -> click.Group:
    """The top-level group with every installed sub-command group attached."""

    @click.group()
    @click.version_option(package_name="daiban")
    def daiban() -> None:
        """代办（Daiban）：村级政务代办点离线同步系统。"""

    for ep in entry_points(group=GROUP):
        daiban.add_command(ep.load(), name=ep.name)
    return daiban


def main() -> None:
    """Entry point of the `daiban` command."""
    build()(prog_name="daiban")


if __name__ == "__main__":
    main()
