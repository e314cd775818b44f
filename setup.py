"""Build hook: compile the English catalogues into .mo files when a wheel is built (pip install .).

The .mo files are build output (git-ignored); `make setup` compiles them for a working tree.
"""

from babel.messages.frontend import CommandLineInterface
from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        for app in ("hub", "node"):
            CommandLineInterface().run(["pybabel", "-q", "compile", "-d", f"{app}/translations", "-D", "messages"])
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogues})
