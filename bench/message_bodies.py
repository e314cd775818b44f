"""What building one sync message's body costs: the protocol builders, then one sealed hello.

    .venv/bin/python -m bench.message_bodies [--tree CHECKOUT] [--calls 20000] [--rounds 7]

Per builder, the best of --rounds runs of --calls calls, in microseconds a call: batch_body
(50 events), poll_body (a hello), response_body, chunks.chunk_body (100 bytes) and the hub's
attachment status answer; then protocol.seal of a hello (build, encode, sign), which every
sync round does. `--tree` measures another checkout's shared/ and hub/ (bench/tree.py): run
both alternating in one sitting. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path
from typing import Any, Callable

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.tree import parse_args  # noqa: E402


def per_call_us(fn: Callable[[], Any], calls: int, rounds: int) -> float:
    """The best of `rounds` runs of `calls` calls, in microseconds a call."""
    return round(min(timeit.repeat(fn, number=calls, repeat=rounds)) / calls * 1e6, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = parse_args(ap)

    from hub.attachments import _answer
    from shared import chunks, protocol, signing

    key = signing.generate_key()
    events = [{"seq": i, "id": f"e{i}", "type": "request.feedback"} for i in range(1, 51)]
    builders: dict[str, Callable[[], Any]] = {
        "batch_body": lambda: protocol.batch_body(
            "N1", events, protocol.GENESIS_HASH, 5, catalogue_version=1, app_version="t", pending=3
        ),
        "hello_body": lambda: protocol.poll_body("N1", 5, kind="hello", catalogue_version=1, app_version="t"),
        "response_body": lambda: protocol.response_body(
            "N1", "h" * 64, ack=None, last_seq=1, last_hash=protocol.GENESIS_HASH, updates=[], cursor=0, more=False
        ),
        "chunk_body": lambda: chunks.chunk_body("N1", "ab" * 32, 0, b"x" * 100),
        "attachment_answer": lambda: _answer("N1", "h" * 64, "ab" * 32, 10, 100),
    }
    out: dict[str, Any] = {"tree": args.tree or "."}
    for name, fn in builders.items():
        out[f"{name}_us"] = per_call_us(fn, args.calls, args.rounds)
    hello = builders["hello_body"]
    out["sealed_hello_us"] = per_call_us(lambda: protocol.seal(key, hello()), max(1, args.calls // 20), args.rounds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
