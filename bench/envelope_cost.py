"""CPU per call of the signed envelope at the hub: reading a node's batch, sealing an answer.

    python bench/envelope_cost.py [--size 200] [--calls 200] [--tree CHECKOUT] [--alternatives]

Reading is hub/nodeauth.authenticate (parse, version, declared types, node lookup, signature,
request hash) on the inflated batches bench/profile_ingest.py builds; sealing is protocol.seal
of the same batch bodies (the hub's answers and the node's polls go through it) and
signing.sealed (the node's batches). `--tree` measures another checkout's hub/ and shared/
(compiled translations needed there, as for profile_ingest).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)


def per_call_us(calls: int, items: list[Any], fn: Any) -> float:
    """Median over five rounds of the CPU microseconds one call of fn takes, cycling over items."""
    rounds = []
    for _ in range(5):
        cpu0 = time.process_time()
        for i in range(calls):
            fn(items[i % len(items)])
        rounds.append((time.process_time() - cpu0) / calls * 1e6)
    return round(sorted(rounds)[2], 1)


def main() -> None:
    """Figures for one checkout, as one JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=200, help="events per batch")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--alternatives", action="store_true", help="also the ideas measured and not taken")
    from bench.tree import parse_args

    args = parse_args(ap)
    from bench.profile_ingest import enrolled_hub
    from hub.db import database
    from hub.nodeauth import authenticate
    from shared import encoding, messages, protocol, signing

    _, envelopes = enrolled_hub(f"sqlite:///{tempfile.mkdtemp()}/hub.sqlite3", args.size, 4 * args.size)
    raws = [zlib.decompress(e) for e in envelopes]
    bodies = [encoding.parse(r)["body"] for r in raws]
    key = signing.generate_key()
    with database.connection_context():
        read = per_call_us(args.calls, raws, lambda raw: authenticate(raw, messages.decode_sync))
    out = {
        "batch_bytes": len(raws[0]),
        "hub_read_batch_us": read,
        "seal_us": per_call_us(args.calls, bodies, lambda body: protocol.seal(key, body)),
        "sealed_us": per_call_us(args.calls, bodies, lambda body: signing.sealed(key, body)),
    }
    if args.alternatives:
        out.update(alternatives(args.calls, raws))
    print(json.dumps(out))


def alternatives(calls: int, raws: list[bytes]) -> dict[str, float]:
    """Ideas measured and not taken: decoding straight into the declared Structs, and reusing a zstd
    compressor. Decoding into Structs still leaves the hub needing the body as a dict (stored as it came)."""
    import msgspec
    import zstandard

    from shared import messages, protocol

    envelope = msgspec.defstruct("Envelope", [("body", messages.SyncMessage), ("sig", str)])
    into_structs = msgspec.json.Decoder(envelope)
    answer = raws[0][: len(raws[0]) // 2]  # about an answer to a 200-event batch (80 kB)
    reused = zstandard.ZstdCompressor(level=9)
    return {
        "parse_then_convert_us": per_call_us(
            calls, raws, lambda raw: protocol.declared(protocol.parse_envelope(raw)[0], messages.decode_sync)
        ),
        "decode_into_structs_us": per_call_us(calls, raws, into_structs.decode),
        "zstd9_new_compressor_us": per_call_us(
            calls, [answer], lambda data: zstandard.ZstdCompressor(level=9).compress(data)
        ),
        "zstd9_reused_compressor_us": per_call_us(calls, [answer], reused.compress),
    }


if __name__ == "__main__":
    main()
