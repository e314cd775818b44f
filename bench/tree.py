"""`--tree CHECKOUT`: a benchmark measures another checkout's hub/ and shared/ (an older commit, run
alternating with this one in one sitting, see docs/performance.md).

The standard library only: a script parses its arguments with this before it imports hub/ or
shared/, which bench.harness already does (so the helper cannot live there).
"""

from __future__ import annotations

import argparse
import sys


def parse_args(ap: argparse.ArgumentParser) -> argparse.Namespace:
    """ap's arguments and --tree; with --tree, hub/ and shared/ imported from now on are that checkout's."""
    ap.add_argument("--tree", help="a checkout whose hub/ and shared/ to measure (put first on sys.path)")
    args = ap.parse_args()
    if args.tree:
        sys.path.insert(0, args.tree)
    return args
