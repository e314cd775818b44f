"""Thread CPU of the node's steps between a batch's answer and the next upload, outside a sync.

    .venv/bin/python -m bench.answer_path [--tree CHECKOUT] [--calls 60]

In a fresh process: building the protocol's JSON decoder (once per process, on the first
message parsed), then, median over --calls: parsing a 1,000-update answer and a 1,000-capture
batch (encoding.parse), node.apply._continuing over the answer's 1,000 entries (cursor_after and
apply_updates each run it), signing.sealed of a 1,000-capture batch body (encode, sign, hash), and
the encoding of that body with its events as dicts and, where the checkout has it, as the bytes
_cut already encoded (encoding.canonical_list).
`--tree` measures another checkout's node/ and shared/ (bench/tree.py). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.tree import parse_args  # noqa: E402


def thread_ms(calls: int, fn: Callable[[], Any]) -> float:
    """Median thread CPU milliseconds of one call of fn."""
    spent = []
    for _ in range(calls):
        t = time.thread_time()
        fn()
        spent.append(time.thread_time() - t)
    return round(statistics.median(spent) * 1000, 3)


def answer_updates(cursor: int, n: int) -> list[dict[str, Any]]:
    """n status entries continuing from `cursor`, shaped as the hub's answers carry them."""
    return [
        {
            "cseq": cursor + 1 + i,
            "type": "case.status",
            "request_id": f"R{i:020d}",
            "state": "received",
            "action": "receive",
            "window": "w1",
            "window_name": "民政窗口",
            "deadline": "2026-12-10",
            "missing": [],
            "missing_names": [],
            "at": "2026-11-30T12:00:00Z",
        }
        for i in range(n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=60)
    args = parse_args(ap)
    from node.apply import _continuing
    from shared import encoding, protocol, signing
    from shared.receipt_codes import node_prefix

    from bench import workload

    key = signing.generate_key()
    events = workload.wire_events(random.Random(1), node_prefix(7), 1, 1000)
    body = protocol.batch_body("N1", events, "0" * 64, 0, catalogue_version=1, app_version="0.1.0")
    batch = encoding.canonical_message({"body": body, "sig": "x" * 88})
    updates = answer_updates(5000, 1000)
    answer = encoding.canonical_message({"body": {"kind": "response", "updates": updates}, "sig": "x" * 88})

    t = time.thread_time()
    encoding.parse(b"{}")
    out: dict[str, Any] = {"tree": args.tree or ".", "decoder_build_ms": round((time.thread_time() - t) * 1000, 1)}
    out["parse_answer_ms"] = thread_ms(args.calls, lambda: encoding.parse(answer))
    out["parse_batch_ms"] = thread_ms(args.calls, lambda: encoding.parse(batch))
    out["continuing_ms"] = thread_ms(args.calls, lambda: _continuing(updates, 5000))
    out["sealed_ms"] = thread_ms(args.calls, lambda: signing.sealed(key, body))
    out["body_encoded_ms"] = thread_ms(args.calls, lambda: encoding.canonical_message(body))
    if hasattr(encoding, "canonical_list"):
        encoded = [encoding.canonical_message(e) for e in events]
        out["body_spliced_ms"] = thread_ms(
            args.calls, lambda: encoding.canonical_message({**body, "events": encoding.canonical_list(encoded)})
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
