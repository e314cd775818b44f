"""Where the bytes of a sync go: HTTP headers per round trip, and what each field of a captured
event costs inside a compressed batch (#13, "fewer bytes").

Each field's cost is measured by taking it out: the node's real signed batches of 1,000 seeded
captures (as `bench.compression` cuts them) are compressed as sent (zstd level 9), then again
with that field set to a constant in every event; the difference, per request, is what the field
costs on the wire. Headers are those of the node's transport and of a real `daiban hub run`.

    .venv/bin/python -m bench.wire_parts
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable

from .compression import REQUESTS, signed_batches
from .harness import load_average, scaled

Mutation = Callable[[dict[str, Any]], None]


def _constant(*path: str) -> Mutation:
    def mutate(ev: dict[str, Any]) -> None:
        node = ev
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = "x"

    return mutate


FIELDS: list[tuple[str, Mutation]] = [
    ("id", _constant("id")),
    ("request_id", _constant("request_id")),
    ("at", _constant("at")),
    ("seq", _constant("seq")),
    ("type", _constant("type")),
    ("clerk", _constant("clerk")),
    ("data.notes", _constant("data", "notes")),
    ("data.applicant (all five)", _constant("data", "applicant")),
    ("data.applicant.id_number", _constant("data", "applicant", "id_number")),
    ("data.applicant.name", _constant("data", "applicant", "name")),
    ("data.applicant.phone", _constant("data", "applicant", "phone")),
    ("data.applicant.address", _constant("data", "applicant", "address")),
    ("data.receipt_code", _constant("data", "receipt_code")),
    ("data.materials", _constant("data", "materials")),
    ("data.fields", _constant("data", "fields")),
]


def field_costs(n: int) -> dict[str, Any]:
    """Bytes per request of the compressed batches, and what each event field adds to them."""
    import zstandard

    from shared import encoding

    envelopes = [json.loads(raw) for raw in signed_batches(30, n)]
    zstd = zstandard.ZstdCompressor(level=encoding.ZSTD_LEVEL)

    def per_request(mutate: Mutation | None) -> float:
        total = 0
        for env in envelopes:
            body = json.loads(json.dumps(env["body"]))
            for ev in body["events"]:
                if mutate:
                    mutate(ev)
            total += len(zstd.compress(encoding.canonical({"body": body, "sig": env["sig"]})))
        return total / n

    base = per_request(None)
    # The rule before shared.protocol.new_event_id: every event a random id of its own.
    random_ids = per_request(lambda ev: ev.__setitem__("id", uuid.uuid4().hex))
    return {
        "batches": len(envelopes),
        "zstd_per_request": round(base, 1),
        "zstd_per_request_with_random_event_ids": round(random_ids, 1),
        "field_cost": {name: round(base - per_request(mutate), 1) for name, mutate in FIELDS},
    }


def header_bytes() -> dict[str, int]:
    """Bytes of HTTP headers a sync request and its answer carry (one round trip)."""
    import requests

    from node.transport import ANSWER_ENCODINGS, HttpTransport
    from tests import support

    hub = support.make_hub(Path(tempfile.mkdtemp(prefix="bench-hdr-")))
    hub.start()
    try:
        transport = HttpTransport(hub.url)
        headers = {"Content-Type": "application/json", "Accept-Encoding": ANSWER_ENCODINGS, "Content-Encoding": "zstd"}
        prepared = transport.session.prepare_request(
            requests.Request("POST", hub.url + "/api/v1/sync", data=b"x" * 60_000, headers=headers)
        )
        up = len("POST /api/v1/sync HTTP/1.1\r\n") + sum(len(k) + len(v) + 4 for k, v in prepared.headers.items()) + 2
        answer = transport.session.post(
            hub.url + "/api/v1/sync", data=b"{}", headers=headers | {"Content-Encoding": ""}
        )
        msg = answer.raw._original_response.msg  # the header lines as the hub sent them
        down = len("HTTP/1.1 200 OK\r\n") + sum(len(k) + len(v) + 4 for k, v in msg.items()) + 2
        transport.session.close()
    finally:
        hub.stop()
    return {"request": up, "answer": down}


def run() -> dict[str, Any]:
    """Headers per round trip and field costs per request."""
    n = scaled(REQUESTS)
    return {"requests": n, "load_avg": load_average(), "headers": header_bytes(), **field_costs(n)}


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=1))
