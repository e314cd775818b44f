"""Putting requests into a node's database fast: queued captures through the real capture path, or history."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from . import workload


def open_node_db(data_dir: Path) -> None:
    """Bind this process's node models to the node database in data_dir."""
    from node.web import open_node

    open_node(data_dir)


def queue_captures(data_dir: Path, n: int, seed: int = 1) -> list[str]:
    """Capture n typical requests with node.capture.capture_request, in one transaction; their receipt codes."""
    from node import clock
    from node.capture import capture_request
    from node.db import database

    open_node_db(data_dir)
    rng = random.Random(seed)
    codes = []
    # Each capture at its moment of capture_times (its request id carries the day), not all at once.
    moments = capture_moments(n, seed)
    with database.connection_context():
        with database.atomic():
            try:
                for _ in range(n):
                    clock.pinned = next(moments).replace(tzinfo=None)
                    codes.append(capture_request(workload.form(rng), "李文书").receipt_code)
            finally:
                clock.pinned = None
            spread_capture_times(n, seed)
    database.obj.close()
    return codes


def capture_times(n: int, seed: int) -> list[str]:
    """The `at` of n captures a clerk made one after another, 1-10 minutes apart, up to now.

    Captured in a loop, n events would carry nearly the same time, which compresses better than
    a real day's would (docs/performance.md, "Fewer bytes, second pass"). A generator of their
    own, so the seeded records stay those of earlier runs.
    """
    from shared import protocol

    moments = capture_moments(n, seed)
    return [protocol.event_time(next(moments)) for _ in range(n)]


def capture_moments(n: int, seed: int) -> Iterator[datetime]:
    """The moments of `capture_times`, as datetimes (UTC)."""
    from shared import protocol

    return workload.clerk_times(seed, protocol.utcnow() - timedelta(seconds=330 * n))


def spread_capture_times(n: int, seed: int) -> None:
    """Give the last n queued events the times of `capture_times` (caller holds the transaction)."""
    from node.models import Event

    events = list(Event.select(Event.id).where(Event.seq.is_null()).order_by(Event.id.desc()).limit(n))
    for event, at in zip(reversed(events), capture_times(len(events), seed)):
        Event.update(at=at).where(Event.id == event.id).execute()


def bulk_history(data_dir: Path, n: int, seed: int = 2, queued: bool = False) -> None:
    """Insert n requests already acknowledged by the hub (an old node's history), with their events.

    With queued=True they are instead committed captures waiting in the outbox (no seq yet), as
    capture_request leaves them, only inserted many at a time.
    """
    from node import meta
    from node.capture import catalogue, now
    from node.db import database
    from node.models import Event, Request
    from shared import protocol
    from shared.receipt_codes import code_prefix, new_code

    open_node_db(data_dir)
    rng = random.Random(seed)
    times = iter(capture_times(n, seed))
    with database.connection_context():
        cat = catalogue()
        prefix = meta.get("prefix", "22")
        start = int(meta.get("next_seq", 1))
        done = 0
        pool: list[dict] = []
        while done < n:
            reqs, evs = [], []
            for i in range(min(5000, n - done)):
                # Beyond the first 5,000 people, the same villagers come back for new requests:
                # filling 100k stays quick and every search still finds a realistic handful.
                if len(pool) < 5000:
                    pool.append(workload.captured_record(rng, prefix, cat))
                    rec = pool[-1]
                else:
                    rec = dict(rng.choice(pool), receipt_code=new_code(prefix, rng))
                item = cat.item(rec["item_code"])
                at = next(times)
                rid = protocol.new_request_id(code_prefix(rec["receipt_code"]), protocol.parse_iso(at))
                app = rec["applicant"]
                ts = now()
                reqs.append(
                    dict(
                        request_id=rid,
                        receipt_code=rec["receipt_code"],
                        item_code=rec["item_code"],
                        kind=item["kind"],
                        applicant_name=app["name"],
                        id_number=app["id_number"],
                        id_tail=app["id_number"][-4:],
                        phone=app["phone"],
                        address=app["address"],
                        data=rec,
                        materials_brought=rec["materials"]["brought"],
                        materials_missing=rec["materials"]["missing"],
                        state="queued"
                        if queued
                        else rng.choice(["received", "accepted", "approved", "needs_materials"]),
                        window=item["window"],
                        window_name=cat.window_name(item["window"]),
                        clerk="李文书",
                        created_at=ts,
                        updated_at=ts,
                        hub_missing=[],
                        hub_missing_names=[],
                    )
                )
                evs.append(
                    dict(
                        event_id=protocol.new_event_id("request.captured", rid),
                        seq=None if queued else start + done + i,
                        type="request.captured",
                        request_id=rid,
                        clerk="李文书",
                        at=at,
                        data=rec,
                        result=None if queued else "ok",
                    )
                )
            with database.atomic():
                for chunk in range(0, len(reqs), 500):
                    Request.insert_many(reqs[chunk : chunk + 500]).on_conflict_ignore().execute()
                    Event.insert_many(evs[chunk : chunk + 500]).execute()
                done += len(reqs)
        if not queued:
            with database.atomic():
                meta.put("next_seq", start + n)
    database.obj.close()


def counts(data_dir: Path) -> dict[str, int]:
    """Requests, queued events and applied hub updates in a node database."""
    from node import outbox
    from node.db import database
    from node.models import HubUpdate, Request

    open_node_db(data_dir)
    with database.connection_context():
        out = {
            "requests": Request.select().count(),
            "queued": outbox.queued_count(),
            "updates": HubUpdate.select().count(),
        }
    database.obj.close()
    return out
