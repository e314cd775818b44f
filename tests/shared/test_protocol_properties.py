"""Properties of the sync protocol, checked with hypothesis.

1. The chain and sequence rules (shared.protocol and the hub's ingest) accept exactly
   the honest histories.
2. Any interleaving of sends, re-sends, lost acks, duplicates, stale replays, staff
   actions and restarts converges: afterwards the hub holds every event exactly once
   and the node's chain and cursor agree with the hub's.
"""

from __future__ import annotations

import copy
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import protocol
from tests.factories import capture
from tests.apptransport import AppTransport as InProcessLink

# DAIBAN_PROPERTY_EXAMPLES raises the count for a long local hunt.
SETTINGS = settings(
    max_examples=int(os.environ.get("DAIBAN_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# --- 1. chain rules -----------------------------------------------------------------


def honest_history(sizes: list[int], node_id: str = "n1") -> list[dict[str, Any]]:
    """Batches an honest node would sign: contiguous sequence, each naming the previous hash."""
    out, seq, prev = [], 0, protocol.GENESIS_HASH
    for size in sizes:
        events = [
            {
                "seq": seq + 1 + i,
                "id": f"e{seq + 1 + i}",
                "type": "request.feedback",
                "request_id": f"r{seq + 1 + i}",
                "data": {"satisfaction": "满意"},
            }
            for i in range(size)
        ]
        body = protocol.batch_body(
            node_id,
            events,
            prev,
            0,
            catalogue_version=1,
            app_version="t",
            clock=protocol.parse_iso("2026-01-01T00:00:00Z"),
        )
        out.append(body)
        seq, prev = body["last_seq"], protocol.body_hash(body)
    return out


def reference_is_honest(history: list[dict[str, Any]]) -> bool:
    """The rule written out plainly, independently of shared.protocol."""
    seq, prev = 0, protocol.GENESIS_HASH
    for body in history:
        events = body.get("events")
        if not isinstance(events, list) or not events:
            return False
        if body.get("first_seq") != seq + 1 or body.get("prev_hash") != prev:
            return False
        if body.get("last_seq") != seq + len(events):
            return False
        for i, ev in enumerate(events):
            if not isinstance(ev, dict) or ev.get("seq") != seq + 1 + i:
                return False
            if not isinstance(ev.get("id"), str) or not isinstance(ev.get("request_id"), str):
                return False
            if not isinstance(ev.get("data"), dict):
                return False
        seq, prev = body["last_seq"], protocol.body_hash(body)
    return True


def protocol_accepts(history: list[dict[str, Any]]) -> bool:
    """What check_batch_shape + check_chain say, batch after batch."""
    seq, prev = 0, protocol.GENESIS_HASH
    for body in history:
        try:
            protocol.check_batch_shape(body)
            protocol.check_chain(seq, prev, body)
        except protocol.ProtocolError as exc:
            assert exc.code in protocol.ERRORS
            return False
        seq, prev = body["last_seq"], protocol.body_hash(body)
    return True


MUTATIONS = [
    "none",
    "shift_first",
    "bad_prev",
    "drop_event",
    "swap_events",
    "dup_event",
    "bad_last",
    "renumber_event",
    "replace_batch",
    "drop_batch",
    "swap_batches",
    "empty_events",
    "event_not_dict",
    "id_not_str",
    "data_not_dict",
    "first_zero",
]


def mutate(history: list[dict[str, Any]], kind: str, at: int, pos: int) -> list[dict[str, Any]]:
    """One alteration an attacker, a bug or a bad restore could make."""
    h = copy.deepcopy(history)
    b = h[at % len(h)]
    evs = b["events"]
    i = pos % len(evs)
    if kind == "shift_first":
        b["first_seq"] += 1
    elif kind == "bad_prev":
        b["prev_hash"] = "f" * 64
    elif kind == "drop_event":
        evs.pop(i)
    elif kind == "swap_events" and len(evs) > 1:
        j = (i + 1) % len(evs)
        evs[i], evs[j] = evs[j], evs[i]
    elif kind == "dup_event":
        evs.insert(i, copy.deepcopy(evs[i]))
    elif kind == "bad_last":
        b["last_seq"] += 1
    elif kind == "renumber_event":
        evs[i]["seq"] += 7
    elif kind == "replace_batch":
        evs[i]["data"] = {"satisfaction": "不满意"}
    elif kind == "drop_batch":
        h.pop(at % len(h))
    elif kind == "swap_batches" and len(h) > 1:
        k = at % len(h)
        h[k], h[k - 1] = h[k - 1], h[k]
    elif kind == "empty_events":
        b["events"] = []
    elif kind == "event_not_dict":
        evs[i] = [evs[i]]
    elif kind == "id_not_str":
        evs[i]["id"] = 12
    elif kind == "data_not_dict":
        evs[i]["data"] = "x"
    elif kind == "first_zero":
        b["first_seq"] = 0
    return h


@SETTINGS
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=6),
    kind=st.sampled_from(MUTATIONS),
    at=st.integers(0, 10),
    pos=st.integers(0, 10),
)
def test_chain_rules_accept_exactly_the_honest_histories(sizes: list[int], kind: str, at: int, pos: int) -> None:
    history = honest_history(sizes)
    assert protocol_accepts(history)
    altered = mutate(history, kind, at, pos)
    assert protocol_accepts(altered) == reference_is_honest(altered)
    if kind in (
        "shift_first",
        "bad_prev",
        "drop_event",
        "dup_event",
        "bad_last",
        "renumber_event",
        "empty_events",
        "event_not_dict",
        "id_not_str",
        "data_not_dict",
        "first_zero",
    ):
        assert not protocol_accepts(altered)


# --- an in-process hub and node ----------------------------------------------------------


@contextmanager
def hub_and_node() -> Iterator[dict[str, Any]]:
    """A hub app on a fresh SQLite file and an enrolled node on another, in this process."""
    from hub import create_app as create_hub
    from hub.db import database as hub_db
    from hub.enrolment import issue_code
    from hub.schema import migrate
    from node import create_app as create_node
    from node.db import database as node_db
    from node.enrolment import enroll

    with tempfile.TemporaryDirectory() as tmp:
        hub = create_hub(
            {"TESTING": True, "DATA_DIR": f"{tmp}/hub", "DATABASE_URL": f"sqlite:///{tmp}/hub.db", "SECRET_KEY": "t"}
        )
        with hub_db.connection_context():
            migrate()
            code = issue_code("桃源村")
        client = hub.test_client()
        node = create_node({"TESTING": True, "DATA_DIR": f"{tmp}/node", "SECRET_KEY": "t"})
        key = node.extensions["daiban_node_key"]
        with node_db.connection_context():
            enroll(InProcessLink(client), key, code, "http://hub")
        try:
            yield {"client": client, "key": key, "hub_db": hub_db, "node_db": node_db, "tmp": Path(tmp)}
        finally:
            for db in (hub_db, node_db):
                if not db.is_closed():
                    db.close()


FAULT = st.sampled_from(["ok", "ok", "drop_before", "drop_after", "duplicate", "stale_replay"])
STEP = st.one_of(
    st.tuples(st.just("capture"), st.integers(1, 4)),
    st.tuples(st.just("sync"), st.lists(FAULT, max_size=6)),
    st.tuples(st.just("restart"), st.just(0)),
    st.tuples(st.just("act"), st.integers(0, 99)),
    st.tuples(st.just("feedback"), st.integers(0, 99)),
    st.tuples(st.just("batch_bytes"), st.sampled_from([4096, 8192, 512 * 1024])),
)


def converge_and_check(env: dict[str, Any], client_factory: Any) -> None:
    """Heal the link, sync until settled, then compare node and hub row by row."""
    from hub.models import Case, ForkAlert, HubEvent, Node, NodeEvent
    from node import meta
    from node.models import Batch as NodeBatch
    from node.models import Event, HubUpdate, Request

    sync = client_factory([])
    for _ in range(5):
        sync.round()
        with env["node_db"].connection_context():
            settled = (
                not Event.select().where(Event.result.is_null()).exists()
                and not NodeBatch.select().where(NodeBatch.state == "pending").exists()
            )
        if settled:
            break
    assert settled, "the node did not settle on a perfect link"
    with env["node_db"].connection_context():
        node_events = sorted((e.seq, e.event_id) for e in Event.select())
        refused = [e.seq for e in Event.select().where(Event.result != "ok")]
        node_codes = sorted(r.receipt_code for r in Request.select())
        chain = (int(meta.get("next_seq", 1)) - 1, meta.get("last_hash"), int(meta.get("cursor", 0)))
        updates = sorted(u.cseq for u in HubUpdate.select())
        node_states = {r.receipt_code: r.state for r in Request.select()}
    with env["hub_db"].connection_context():
        node = Node.get()
        hub_events = sorted((e.seq, e.event_id) for e in NodeEvent.select())
        hub_codes = sorted(c.receipt_code for c in Case.select())
        hub_log = sorted(h.cseq for h in HubEvent.select())
        hub_states = {c.receipt_code: c.state for c in Case.select()}
        forks = ForkAlert.select().count()
    assert node_events == hub_events, "every event at the hub exactly once, in the node's order"
    assert refused == []
    assert forks == 0
    assert node_codes == hub_codes
    assert chain == (node.last_seq, node.last_hash, node.out_seq)
    assert updates == hub_log == list(range(1, node.out_seq + 1)), "every hub status reached the village"
    assert node_states == hub_states


@SETTINGS
@given(steps=st.lists(STEP, min_size=1, max_size=14), seed=st.integers(0, 2**16))
def test_any_interleaving_of_faults_converges(steps: list[tuple[str, Any]], seed: int) -> None:
    import random

    from hub import cases
    from hub.models import Case
    from node import meta
    from node.capture import add_event, capture_request
    from node.models import Event, Request
    from node.sync import SyncClient
    from node.transport import SyncError

    rng = random.Random(seed)
    with hub_and_node() as env:

        def make_client(faults: list[str]) -> SyncClient:
            return SyncClient(InProcessLink(env["client"], faults), env["key"])

        sync = make_client([])
        for kind, arg in steps:
            if kind == "capture":
                with env["node_db"].connection_context():
                    for _ in range(arg):
                        capture_request(capture(rng.choice(["JF-01", "DB-03", "FP-01", "DB-02"]), rng=rng), "李文书")
            elif kind == "sync":
                sync.transport.faults = list(arg)  # type: ignore[attr-defined]
                try:
                    sync.round()
                except SyncError:
                    pass
            elif kind == "restart":
                sync = make_client([])
            elif kind == "act":
                with env["hub_db"].connection_context():
                    open_cases = list(
                        Case.select().where(Case.state.in_(["received", "accepted"])).order_by(Case.receipt_code)
                    )
                    if open_cases:
                        case = open_cases[arg % len(open_cases)]
                        action = "accept" if case.state == "received" and case.mode != "immediate" else "approve"
                        cases.act(case.receipt_code, action, "窗口")
            elif kind == "feedback":
                with env["node_db"].connection_context():
                    # One rating per matter (一事一评), as the clerk's page allows: unrated requests only.
                    rated = Event.select(Event.request_id).where(Event.type == "request.feedback")
                    reqs = list(Request.select().where(Request.request_id.not_in(rated)).order_by(Request.receipt_code))
                    if reqs:
                        add_event(
                            reqs[arg % len(reqs)].receipt_code, "request.feedback", "李文书", {"satisfaction": "满意"}
                        )
            elif kind == "batch_bytes":
                with env["node_db"].connection_context(), env["node_db"].atomic():
                    meta.put("batch_bytes", arg)
        converge_and_check(env, make_client)
