"""How many bytes a sync batch of typical requests takes under deflate, zstd, and zstd with a
dictionary trained from the catalogue and other typical requests (#13, "fewer bytes").

The node's real signed batches are cut from 1,000 seeded captures (`bench/workload.py`, as the
wire and 2G figures use); the dictionary is trained on two other seeds' events plus the default
catalogue, so it has never seen the test batches. Needs the `zstandard` package (not a
dependency of Daiban): ``.venv/bin/pip install zstandard`` first.

    .venv/bin/python -m bench.compression
"""

from __future__ import annotations

import json
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from . import nodefill
from .harness import load_average, scaled

REQUESTS = 1000


def per_request(compress: Any, batches: list[bytes], n: int) -> tuple[int, float]:
    """Bytes per request and CPU milliseconds per 1,000 requests to compress the batches."""
    t0 = time.process_time()
    size = sum(len(compress(b)) for b in batches)
    return round(size / n), round((time.process_time() - t0) * 1000 * 1000 / n)


def signed_batches(seed: int, n: int) -> list[bytes]:
    """The envelopes a node with n queued captures would send, in order, as the sync client cuts them."""
    from node import outbox
    from node.db import database
    from node.models import Event
    from node.web import node_key
    from shared import protocol
    from tests import support

    data = Path(tempfile.mkdtemp(prefix="bench-zstd-")) / "node"
    data.mkdir(parents=True)
    support.daiban("node", "--dir", str(data), "init")
    nodefill.queue_captures(data, n, seed)
    nodefill.open_node_db(data)
    key = node_key(data)
    out = []
    with database.connection_context():
        while batch := outbox.next_batch(key, protocol.DEFAULT_BATCH_BYTES, protocol.DEFAULT_BATCH_EVENTS):
            out.append(bytes(batch.envelope))
            # As if the hub had accepted it, so the next call cuts a new batch.
            batch.state = "done"
            batch.save()
            Event.update(result="accepted").where(Event.batch == batch.id).execute()
    database.obj.close()
    return out


def run() -> dict[str, Any]:
    """Bytes per request of the same batches under each compression."""
    import zstandard as zstd

    from shared.catalogue import DEFAULT_CATALOGUE

    n = scaled(REQUESTS)
    test = signed_batches(30, n)
    samples = [json.dumps(DEFAULT_CATALOGUE, ensure_ascii=False).encode()]
    for env in signed_batches(31, n) + signed_batches(32, n):
        samples += [json.dumps(ev, ensure_ascii=False).encode() for ev in json.loads(env)["body"]["events"]]
    out: dict[str, Any] = {
        "requests": n,
        "batches": len(test),
        "load_avg": load_average(),
        "raw_per_request": round(sum(map(len, test)) / n),
    }
    # (bytes per request, CPU ms per 1,000 requests) for each way of compressing the same batches
    out["deflate6"] = per_request(lambda b: zlib.compress(b, 6), test, n)
    for level in (3, 9, 19):
        out[f"zstd{level}"] = per_request(zstd.ZstdCompressor(level=level).compress, test, n)
    for size in (16_384, 65_536):
        dictionary = zstd.train_dictionary(size, samples, level=19)
        for level in (3, 9, 19):
            out[f"zstd{level}_dict{size // 1024}k"] = per_request(
                zstd.ZstdCompressor(level=level, dict_data=dictionary).compress, test, n
            )
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
