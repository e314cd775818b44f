"""Where the bytes of a sync go: HTTP headers per round trip, and what each field of a captured
event costs inside a compressed batch (#13, "fewer bytes").

Each field's cost is measured by taking it out: the node's real signed batches of 1,000 seeded
captures (as `bench.compression` cuts them) are compressed as sent (zstd level 9), then again
with that field set to a constant in every event; the difference, per request, is what the field
costs on the wire. Headers are those of the node's transport and of a real `daiban hub run`.

    .venv/bin/python -m bench.wire_parts            # headers, fields up, fields down
    .venv/bin/python -m bench.wire_parts --levels   # the batches at each zstd level, bytes and CPU
"""

from __future__ import annotations

import json
import random
import secrets
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
    # The rules before shared.protocol.new_request_id and event_time: 128 random bits per request
    # id (as uuid4 hex), and microseconds in every `at` (six digits a real clock makes random).
    fraction = random.Random(5)

    def long_id(ev: dict[str, Any]) -> None:
        ev["id"] = ev["request_id"] = uuid.uuid4().hex

    def microseconds(ev: dict[str, Any]) -> None:
        ev["at"] = ev["at"][:19] + f".{fraction.randrange(10**6):06d}Z"

    def without_day(ev: dict[str, Any]) -> None:
        ev["id"] = ev["request_id"] = random_request_id(ev["request_id"])

    return {
        "batches": len(envelopes),
        "zstd_per_request": round(base, 1),
        "zstd_per_request_with_random_event_ids": round(random_ids, 1),
        "zstd_per_request_with_uuid4_request_ids": round(per_request(long_id), 1),
        "zstd_per_request_with_microsecond_at": round(per_request(microseconds), 1),
        "zstd_per_request_with_random_64bit_request_ids": round(per_request(without_day), 1),
        "field_cost": {name: round(base - per_request(mutate), 1) for name, mutate in FIELDS},
    }


def random_request_id(request_id: str) -> str:
    """The same request's id by the rule at 43b69e4: its prefix and 64 random bits, no day."""
    from shared import protocol

    return request_id[: -protocol.REQUEST_ID_TAIL_HEX] + secrets.token_hex(8)


def header_bytes() -> dict[str, int]:
    """Bytes of HTTP headers a sync request and its answer carry (one round trip)."""
    import requests

    from node.transport import HttpTransport
    from tests import support

    hub = support.make_hub(Path(tempfile.mkdtemp(prefix="bench-hdr-")))
    hub.start()
    try:
        transport = HttpTransport(hub.url)
        # As node.transport._post sends a batch; the session adds its own (SESSION_HEADERS).
        headers = {"Content-Type": "application/json", "Content-Encoding": "zstd"}
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


def record_answers(node_dir: str, out: str) -> None:
    """Sync the node at node_dir once, in this process, and write every answer body (inflated) to out."""
    import os

    os.environ["DAIBAN_NODE_DIR"] = node_dir
    from node import create_app
    from node.sync import SyncClient
    from node.transport import HttpTransport

    answers: list[str] = []

    class Recording(HttpTransport):
        def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
            status, content = super().exchange(path, body)
            answers.append(content.decode())
            return status, content

    app = create_app()
    from node import meta
    from node.db import database

    with database.connection_context():
        hub_url = meta.get("hub_url")
    SyncClient(Recording(hub_url), app.extensions["daiban_node_key"]).round()
    Path(out).write_text(json.dumps(answers, ensure_ascii=False))


def _update_fields(updates: list[dict[str, Any]]) -> list[str]:
    """Every field path (`type`, `body.state`, ...) the updates carry, the most frequent first."""
    seen: dict[str, int] = {}
    for up in updates:
        for key, value in up.items():
            if isinstance(value, dict):
                for inner in value:
                    seen[f"{key}.{inner}"] = seen.get(f"{key}.{inner}", 0) + 1
            else:
                seen[key] = seen.get(key, 0) + 1
    return sorted(seen, key=lambda k: -seen[k])


def answer_costs(n: int) -> dict[str, Any]:
    """What each field of the updates coming down costs in the compressed answers (levels 9 and 19).

    A real hub and a real enrolled node with n seeded captures; the node's sync client syncs once
    (in a child process, which records each answer it read), then each field is taken out of every
    update as `field_costs` does up (set to a constant, or dropped: both are given).
    """
    import subprocess
    import sys

    import zstandard

    from shared import encoding

    from . import nodefill
    from .harness import ROOT, hub_process

    tmp = Path(tempfile.mkdtemp(prefix="bench-down-"))
    with hub_process(tmp) as hub:
        from tests import support

        node, _ = support.make_node(tmp, "node", hub, "下行村")
        nodefill.queue_captures(node.data_dir, n, 30)
        out = tmp / "answers.json"
        subprocess.run(
            [sys.executable, "-m", "bench.wire_parts", "--record-answers", str(node.data_dir), str(out)],
            cwd=ROOT,
            check=True,
        )
    envelopes = [json.loads(a) for a in json.loads(out.read_text())]
    updates = [up for env in envelopes for up in env["body"].get("updates", [])]
    levels = {9: zstandard.ZstdCompressor(level=9), 19: zstandard.ZstdCompressor(level=19)}

    def per_request(level: int, mutate: Callable[[dict[str, Any]], None] | None) -> float:
        total = 0
        for env in envelopes:
            body = json.loads(json.dumps(env["body"]))
            for up in body.get("updates", []):
                if mutate:
                    mutate(up)
            raw = encoding.canonical({"body": body, "sig": env["sig"]})
            packed = levels[level].compress(raw)
            total += len(packed) if encoding.pays(len(raw), len(packed), "zstd", answer=True) else len(raw)
        return total / n

    def setter(path: str, drop: bool) -> Callable[[dict[str, Any]], None]:
        def mutate(up: dict[str, Any]) -> None:
            node = up
            keys = path.split(".")
            for key in keys[:-1]:
                node = node.get(key) if isinstance(node.get(key), dict) else {}
            if keys[-1] in node:
                if drop:
                    del node[keys[-1]]
                else:
                    node[keys[-1]] = "x"

        return mutate

    stand_ins: dict[str, str] = {}

    def stand_in(up: dict[str, Any]) -> None:
        rid = str(up.get("request_id", ""))
        if len(rid) != 32:  # a node's id, not the counter's (new_id)
            up["request_id"] = stand_ins.setdefault(rid, random_request_id(rid))

    base = {lvl: per_request(lvl, None) for lvl in levels}
    types: dict[str, int] = {}
    for up in updates:
        types[str(up.get("type"))] = types.get(str(up.get("type")), 0) + 1
    costs = {}
    for path in _update_fields(updates):
        costs[path] = {
            "set_to_x_l9": round(base[9] - per_request(9, setter(path, False)), 1),
            "dropped_l9": round(base[9] - per_request(9, setter(path, True)), 1),
            "dropped_l19": round(base[19] - per_request(19, setter(path, True)), 1),
        }
    sample = {t: next(up for up in updates if up.get("type") == t) for t in types}
    return {
        "answers": len(envelopes),
        "updates": len(updates),
        "update_types": types,
        "raw_per_request": round(sum(len(encoding.canonical(e)) for e in envelopes) / n, 1),
        "zstd9_per_request": round(base[9], 1),
        "zstd19_per_request": round(base[19], 1),
        # If the hub wrote each update's `at` to the second, as nodes now do (protocol.event_time).
        "zstd19_per_request_with_at_to_the_second": round(
            per_request(19, lambda up: up.__setitem__("at", str(up.get("at", ""))[:19] + "Z")), 1
        ),
        # With the request ids by the rule before the day (shared.protocol.new_request_id), each
        # request's own stand-in wherever it comes down.
        "zstd19_per_request_with_random_64bit_request_ids": round(per_request(19, stand_in), 1),
        "zstd9_per_request_with_random_64bit_request_ids": round(per_request(9, stand_in), 1),
        "field_cost": costs,
        "sample": sample,
    }


def level_costs(n: int) -> dict[int, dict[str, float]]:
    """Bytes per request and CPU ms of the node's batches at each zstd level (`--levels`)."""
    import time

    import zstandard

    batches = signed_batches(30, n)
    out = {}
    for level in (9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22):
        zstd = zstandard.ZstdCompressor(level=level)
        cpu = []
        for _ in range(3):  # the least of three passes: what the level costs, less the machine's load
            started = time.process_time()
            total = sum(len(zstd.compress(raw)) for raw in batches)
            cpu.append(time.process_time() - started)
        out[level] = {"per_request": round(total / n, 1), "cpu_ms": round(min(cpu) * 1000, 1)}
    return out


def run() -> dict[str, Any]:
    """Headers per round trip, field costs per request up, and the same for the answers down."""
    n = scaled(REQUESTS)
    return {
        "requests": n,
        "load_avg": load_average(),
        "headers": header_bytes(),
        **field_costs(n),
        "down": answer_costs(n),
    }


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--record-answers"]:
        record_answers(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--levels"]:
        n = scaled(REQUESTS)
        print(json.dumps({"requests": n, "load_avg": load_average(), "levels": level_costs(n)}, indent=1))
    else:
        print(json.dumps(run(), ensure_ascii=False, indent=1))
