"""A node process that runs the real sync client until its queue is empty, and reports how long it took.

    python -m bench.node_sync_driver --dir NODE_DIR [--hub URL] [--retry]
    python -m bench.node_sync_driver --gaps TRACE.jsonl...   # where the hub waited for the node

--gaps reads traces the node wrote (DAIBAN_SYNC_TRACE; `BENCH_E2E_TRACE=DIR python -m
bench.sync_link e2e` keeps one per run) and prints, per run, the medians over the batches sent
ahead of: checking an answer (its arrival to `sign`), cutting, signing and storing the next
batch (`sign` to `signed`) and its leaving (`signed` to its `post`), and their sum over the
run: the stretches between an answer and the next upload, while the hub has nothing to do;
then the round's two ends (until the first batch left, after the last answer), how far the two
overlapped over the round (_overlap) and how many bodies went at the slow-link level.

With BENCH_NODE_CPU_BY_FUNCTION=1 in the environment, the CPU time (thread time) spent in the sync
path's main functions is logged on stderr after the round (calls nest: a line includes the lines
of what it calls; the figures include the wrappers' own small cost). With BENCH_NODE_PROFILE=FILE
the round's thread runs under cProfile (thread CPU time) and its stats are written to FILE (pstats format; the
worker thread that compresses and posts is not in it).

With --retry a failed round is retried after the scheduler's own backoff, as `daiban node run` would,
but only for what a link does (drops, timeouts, a busy hub) and only within --give-up-s: a hub
answering 5xx is broken, not slow, and the real node's patient backoff (up to 300 s a try, 50
tries) made such a run look like a hang with nothing printed. Every failure is logged on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from typing import Any

# A hub that answers 5xx has a bug to read in its log; waiting longer will not move a benchmark.
NOT_A_LINK_FAULT = {"server_error"}

# Functions whose CPU time BENCH_NODE_CPU_BY_FUNCTION reports: (module, attribute); a name a
# checkout lacks is skipped, so the same driver measures an older tree copied in.
CPU_BY_FUNCTION = [
    ("node.outbox", "_cut"),
    ("node.outbox", "draft"),
    ("node.outbox", "wire_event"),
    ("node.outbox", "Batch.create"),
    ("node.outbox", "batch_after"),
    ("node.outbox", "next_batch"),
    ("node.apply", "apply_response"),
    ("node.apply", "cursor_after"),
    ("node.reconcile", "log_differs"),
    ("node.meta", "get"),
    ("node.meta", "put"),
    ("node.progress", "batch_totals"),
    ("node.progress", "queued_totals"),
    ("node.sync", "SyncClient._verify"),
    ("shared.encoding", "compress_zstd"),
    ("node.outbox", "_unsigned"),
    ("node.outbox", "queued_count"),
    ("shared.signing", "sealed"),
    ("shared.protocol", "seal"),
    ("node.apply", "apply_updates"),
    ("node.apply", "_rows"),
    ("node.apply", "_windows"),
    ("node.apply", "_write_requests"),
    ("node.apply", "_executemany"),
    ("node.apply", "_apply_ack"),
    ("node.outbox", "record_attempt"),
    ("shared.protocol", "open_envelope"),
    ("shared.encoding", "parse"),
    ("shared.encoding", "_decoder"),
    ("shared.encoding", "_checked_below"),
    ("node.hubkey", "verify_hub"),
    ("node.transport", "HttpTransport.exchange"),
    ("peewee", "Database.commit"),
    ("peewee", "SqliteDatabase._connect"),
    ("peewee", "SqliteDatabase._close"),
]


def cpu_by_function() -> dict[str, list[float]]:
    """Wrap CPU_BY_FUNCTION so each call adds its thread CPU time; {name: [seconds, calls]}."""
    import functools
    import importlib

    spent: dict[str, list[float]] = {}
    for module_name, attr in CPU_BY_FUNCTION:
        owner: object = importlib.import_module(module_name)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, name, None)
        if fn is None:
            continue
        label = f"{module_name}.{attr}"
        spent[label] = [0.0, 0]

        def timed(*a: object, _fn=fn, _cell=spent[label], **k: object) -> object:  # type: ignore[no-untyped-def]
            t = time.thread_time()
            try:
                return _fn(*a, **k)
            finally:
                _cell[0] += time.thread_time() - t
                _cell[1] += 1

        setattr(owner, name, functools.wraps(fn)(timed))
    # node.sync imported these by name: point it at the wrappers too.
    import node.hubkey
    import node.sync

    node.sync.verify_hub = node.hubkey.verify_hub
    return spent


def _time_gc() -> list[float]:
    """[seconds, collections] of the cyclic garbage collector from now on (thread CPU of each run)."""
    import gc

    spent = [0.0, 0]
    started: list[float] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.thread_time())
        elif started:
            spent[0] += time.thread_time() - started.pop()
            spent[1] += 1

    gc.callbacks.append(note)
    return spent


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")


# Bodies above this many bytes (sent or answered) are batches and their answers, not hellos or polls.
BATCH_SIZED = 10_000


def trace_gaps(paths: list[str]) -> None:
    """Print, per trace, where the hub waited for the node between an answer and the next batch."""
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            steps = [json.loads(line) for line in fh]
        check, store, leave, idle = [], [], [], []
        for i, step in enumerate(steps):
            if step["ev"] != "sign" or step.get("what") != "ahead":
                continue
            answered = max(s["t"] for s in steps[:i] if s["ev"] == "answered")
            signed = next(s for s in steps[i:] if s["ev"] == "signed")
            if signed.get("what") != "ahead":
                continue  # nothing left to send: the round ends after this answer
            posted = next(s["t"] for s in steps[i:] if s["ev"] == "post")
            check.append(step["t"] - answered)
            store.append(signed["t"] - step["t"])
            leave.append(posted - signed["t"])
            idle.append(posted - answered)
        print(
            f"{path}: {len(idle)} batches ahead; per batch (medians) checking the answer "
            f"{_median(check) * 1000:.1f} ms, cutting/signing/storing {_median(store) * 1000:.1f} ms, "
            f"leaving {_median(leave) * 1000:.1f} ms; answer -> next post {sum(idle):.3f} s in all; " + _overlap(steps)
        )
        print(f"{path}: {_start(steps)}; {_last_apply(steps)}")


def _at(steps: list[dict[str, Any]], ev: str, nth: int = 0, **fields: Any) -> float | None:
    """The time of the nth step `ev` (with these fields) on the round's thread; None when there is none."""
    times = [
        s["t"]
        for s in steps
        if s["ev"] == ev and s["th"] == "MainThread" and all(s.get(k) == v for k, v in fields.items())
    ]
    return times[nth] if len(times) > nth else None


def _ms(start: float | None, end: float | None) -> str:
    return "-" if start is None or end is None else f"{(end - start) * 1000:.1f}"


def _start(steps: list[dict[str, Any]]) -> str:
    """The round's start, step by step: until the hello leaves (the queue's count), its answer, its apply, the first cut."""
    round_at = _at(steps, "round")
    hello_out, hello_back = _at(steps, "post"), _at(steps, "answered")
    applied, sign, signed = _at(steps, "applied", what="hello"), _at(steps, "sign", what="batch"), _at(steps, "signed")
    return (
        f"start: hello out after {_ms(round_at, hello_out)} ms, answered in {_ms(hello_out, hello_back)} ms, "
        f"applied after {_ms(hello_back, applied)} ms, first cut {_ms(sign, signed)} ms, "
        f"first batch out at {_ms(round_at, _at(steps, 'post', 1))} ms"
    )


def _last_apply(steps: list[dict[str, Any]]) -> str:
    """The last answer's apply, step by step: ack and counts, the status updates, the commit."""
    applies = [i for i, s in enumerate(steps) if s["ev"] == "apply" and s.get("what") == "batch"]
    if not applies:
        return "no batch applied"
    tail = [s for s in steps[applies[-1] :] if s["th"] == "MainThread"]
    apply, updates, commit = tail[0]["t"], _at(tail, "updates"), _at(tail, "commit")
    applied = _at(tail, "applied", what="batch")
    return (
        f"last apply {_ms(apply, applied)} ms: before its updates {_ms(apply, updates)}, "
        f"updates {_ms(updates, commit)}, commit {_ms(commit, applied)} ms"
    )


def _overlap(steps: list[dict[str, Any]]) -> str:
    """How far node and hub overlapped over the round: the hub's share without a batch, the node's wait.

    A batch is at the hub from its POST to its answer (only batches, not the hello or a poll);
    the round's thread waits from its last step before an answer (`drafted`) to that answer.
    Bodies at the slow-link level: the node took the link for a slow one (a hello slowed by a
    busy machine can do it) and compressed at zstd 19, several times the CPU.
    """
    start = min(s["t"] for s in steps if s["ev"] == "round")
    end = max(s["t"] for s in steps if s["ev"] == "round_end")
    posts = [s["t"] for s in steps if s["ev"] == "post" and s.get("sent", 0) > BATCH_SIZED]
    answers = [s["t"] for s in steps if s["ev"] == "answered" and s.get("got", 0) > BATCH_SIZED]
    at_hub = sum(a - p for p, a in zip(posts, answers))
    waited = 0.0
    for drafted in (s["t"] for s in steps if s["ev"] == "drafted"):
        later = [a for a in answers if a > drafted]
        waited += later[0] - drafted if later else 0.0
    slow = sum(1 for s in steps if s["ev"] == "compress" and s.get("slow"))
    # The round's two ends, where the hub has nothing to do either: until the first batch leaves
    # (the hello, the first cut) and after the last answer (applying it).
    ends = f"first batch out after {(posts[0] - start) * 1000:.0f} ms, " if posts else ""
    ends += f"the last answer applied in {(end - answers[-1]) * 1000:.0f} ms; " if answers else ""
    return (
        ends + f"round {end - start:.2f} s, the hub without a batch {1 - at_hub / (end - start):.0%} of it, "
        f"the round's thread waiting for answers {waited:.2f} s, {slow} bodies at the slow-link level"
    )


def main() -> None:
    """Sync once (or until done with --retry) and print a JSON report on stdout."""
    if sys.argv[1:2] == ["--gaps"]:
        trace_gaps(sys.argv[2:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--hub", default=None, help="hub URL instead of the enrolled one (e.g. a shaping proxy)")
    ap.add_argument("--retry", action="store_true")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--give-up-s", type=float, default=600.0, help="stop retrying once this much time has passed")
    ap.add_argument("--lan-level", action="store_true", help="never take the link for a slow one (bench.sync_link)")
    args = ap.parse_args()
    os.environ["DAIBAN_NODE_DIR"] = args.dir
    spent = cpu_by_function() if os.environ.get("BENCH_NODE_CPU_BY_FUNCTION") else None

    from node import create_app, meta, outbox, scheduler, sync
    from node.db import database
    from node.sync import SyncClient
    from node.transport import BusyError, HttpTransport, TransportError

    app = create_app()
    with database.connection_context():
        hub_url = args.hub or meta.get("hub_url")
        queued_before = outbox.queued_count()
    if args.lan_level:
        from node import transport

        transport.SLOW_LINK_BYTES_PER_S = 0  # bodies at the LAN's level however slow the loaded loopback looks
    client = SyncClient(HttpTransport(hub_url, timeout=args.timeout), app.extensions["daiban_node_key"])
    rng = random.Random(1)
    failures, waited, errors = 0, 0.0, []
    t0 = time.perf_counter()
    c0 = time.process_time()
    acked = updates = batches = 0
    gc_spent = _time_gc() if spent is not None else None
    profile_to = os.environ.get("BENCH_NODE_PROFILE")
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU of the round's thread, not its waits
    # The process exists for the round, as `daiban node sync`'s does (node.cli.sync): the collector
    # leaves the objects it held before alone (a tree older than node.sync.collected_apart froze
    # them inside SyncClient.round itself).
    owned = getattr(sync, "collected_apart", contextlib.nullcontext)
    while True:
        try:
            with owned():
                report = client.round() if profiler is None else profiler.runcall(client.round)
            acked += report.acked
            updates += report.updates
            batches += report.batches
            break
        except TransportError as exc:
            failures += 1
            errors.append(exc.code)
            retry_after = exc.retry_after if isinstance(exc, BusyError) else 0.0
            jitter = exc.jitter if isinstance(exc, BusyError) else scheduler.COARSE_JITTER
            delay = scheduler.backoff_delay(failures, rng, retry_after, jitter)
            elapsed = time.perf_counter() - t0
            give_up = not args.retry or exc.code in NOT_A_LINK_FAULT or elapsed + delay > args.give_up_s
            print(
                f"node_sync_driver: round failed after {elapsed:.1f} s: {exc.code} {exc.message}"
                + ("; giving up" if give_up else f"; retrying in {delay:.1f} s"),
                file=sys.stderr,
                flush=True,
            )
            if give_up:
                break
            waited += delay
            time.sleep(delay)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    if profiler is not None and profile_to:
        profiler.dump_stats(profile_to)
    if gc_spent is not None:
        spent["gc (collections, every thread)"] = gc_spent
    for label, (secs, calls) in sorted((spent or {}).items(), key=lambda kv: -kv[1][0]):
        print(f"node_sync_driver: CPU {secs:6.3f} s in {int(calls):5d} calls of {label}", file=sys.stderr)
    with database.connection_context():
        queued_after = outbox.queued_count()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "queued_before": queued_before,
                "queued_after": queued_after,
                "acked": acked,
                "updates": updates,
                "batches": batches,
                "failures": failures,
                "backoff_s": waited,
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
