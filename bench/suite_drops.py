"""How long the test suite's end-of-run wait for its PostgreSQL drops takes (tests/support.finish_drops).

Makes 12 databases as the suite's `pg_url` fixture does, lets them go (each dropped in the
background), and times the wait for all the drops. `--tree CHECKOUT` measures that checkout's
tests/support.py instead, for a before/after in one sitting:

    .venv/bin/python -m bench.suite_drops [--tree /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import time

from .tree import parse_args

DATABASES = 12


def main() -> None:
    args = parse_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    from tests import support

    made = [support.pg_database() for _ in range(DATABASES)]
    for database in made:
        next(database)
    started = time.monotonic()
    for database in made:
        database.close()
    support.finish_drops()
    print(f"{args.tree or 'this tree'}: {DATABASES} drops waited {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main()
