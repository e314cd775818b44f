"""The pure per-capture checks the hub runs on every synced event, per CPU second (#13).

The captures are the ingest bench's own (`bench.workload.wire_events`, seeded), cleaned once
as the hub cleans them; each figure is calls per CPU second of this process over `--rounds`
passes of all of them:

- validate_capture: `shared.validation.validate_capture` alone;
- capture_checks: what `hub.ingest._captured` asks of shared/ and routing for one event before
  it writes anything (normalise_capture, validate_capture, the receipt code's normalise and
  issued_by, window_for, missing_materials).

    .venv/bin/python bench/capture_checks.py [--events 4000] [--rounds 5] [--tree OLD_CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path[0] = str(Path(__file__).resolve().parent.parent)


def _per_cpu_second(calls: int, rounds: int, run: Callable[[], None]) -> int:
    run()  # warm caches (per-catalogue lookups, lru caches) as a running hub has them
    cpu0 = time.process_time()
    for _ in range(rounds):
        run()
    return round(calls * rounds / (time.process_time() - cpu0))


def main() -> None:
    """Print calls per CPU second of validate_capture and of the whole pure check of one capture."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=5)
    from bench.tree import parse_args

    args = parse_args(ap)
    from bench import workload
    from hub import routing
    from shared import intake
    from shared.catalogue import Catalogue
    from shared.receipt_codes import issued_by
    from shared.receipt_codes import normalise as normalise_receipt
    from shared.validation import validate_capture

    catalogue, prefix = Catalogue.default(), "AB"
    raw = [ev["data"] for ev in workload.wire_events(random.Random(1), prefix, 1, args.events)]
    cleaned = [intake.normalise_capture(d) for d in raw]
    assert not any(validate_capture(catalogue, d) for d in cleaned), "the workload's captures are all valid"

    def validate_only() -> None:
        for d in cleaned:
            validate_capture(catalogue, d)

    def whole_check() -> None:
        for d in raw:
            data: Any = intake.normalise_capture(d)
            validate_capture(catalogue, data)
            issued_by(normalise_receipt(str(data.get("receipt_code", ""))), prefix)
            code = data["item_code"]
            routing.window_for(catalogue, code)
            catalogue.missing_materials(code, data["materials"]["brought"])

    out = {
        "validate_capture_per_cpu_s": _per_cpu_second(len(cleaned), args.rounds, validate_only),
        "capture_checks_per_cpu_s": _per_cpu_second(len(raw), args.rounds, whole_check),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
