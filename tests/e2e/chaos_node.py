"""A village node process driven line by line from a test, so the test can SIGKILL it anywhere.

    python -m tests.e2e.chaos_node DATA_DIR HUB_URL TIMEOUT

It runs the node's own code (capture, outbox, SyncClient over HttpTransport) on the
node's real database.  Commands on stdin, one per line:

    capture SEED      capture a request; prints ``ok RECEIPT_CODE`` only after the commit
    feedback CODE     record the villager's satisfaction on a request
    sync              one sync round; prints ``synced …`` or ``error CODE …``

Before sending it prints ``phase send`` and before applying a hub answer ``phase apply``,
so the test can aim a kill at the middle of an apply.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any


def say(*parts: object) -> None:
    """One line to the driving test, flushed at once (the test reads it as a fact)."""
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    """Serve commands until stdin closes."""
    data_dir, hub_url, timeout = argv[0], argv[1], float(argv[2])
    os.environ["DAIBAN_NODE_DIR"] = data_dir

    from node import create_app
    from node import sync as node_sync
    from node.capture import CaptureError, add_event, capture_request
    from node.db import database
    from node.models import Event, Request
    from node.sync import SyncClient
    from node.transport import HttpTransport, SyncError
    from shared.catalogue import Catalogue
    from tests.factories import capture

    app = create_app()
    apply_response, apply_resume = node_sync.apply_response, node_sync.apply_resume

    def traced_apply(*args: Any, **kw: Any) -> Any:
        say("phase apply")
        return apply_response(*args, **kw)

    def traced_resume(*args: Any, **kw: Any) -> Any:
        say("phase apply")
        return apply_resume(*args, **kw)

    node_sync.apply_response = traced_apply
    node_sync.apply_resume = traced_resume

    class TracedTransport(HttpTransport):
        def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
            say("phase send")
            return super().exchange(path, body)

    client = SyncClient(TracedTransport(hub_url, timeout=timeout), app.extensions["daiban_node_key"])
    # The village kinds a township decides on its own: no 报县级, no 公示 before approval (those steps
    # are tested in tests/hub/test_county_and_publicity.py; here the drills approve at the hub at will).
    items = [
        i["code"]
        for i in Catalogue.default().items()
        if i["kind"] in ("FP", "DB", "JF") and not i.get("county_approval") and not i.get("publicity_days")
    ]
    say("ready")
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "capture":
            rng = random.Random(int(arg))
            form = capture(rng.choice(items), rng=rng, name=rng.choice(["张三", "李四", "王秀英", "欧阳娜娜"]))
            with database.connection_context():
                try:
                    req = capture_request(form, "李文书")
                except CaptureError as exc:
                    say("invalid", exc)
                    continue
            say("ok", req.receipt_code)
        elif cmd == "feedback":
            with database.connection_context():
                req = Request.get(Request.receipt_code == arg)
                # One rating per matter (一事一评), as the clerk's page allows: a rated request is skipped.
                if (
                    not Event.select()
                    .where((Event.request_id == req.request_id) & (Event.type == "request.feedback"))
                    .exists()
                ):
                    add_event(arg, "request.feedback", "李文书", {"satisfaction": "满意"})
            say("ok", arg)
        elif cmd == "sync":
            try:
                report = client.round()
            except SyncError as exc:
                say("error", exc.code, exc.message)
                continue
            say("synced", report.batches, report.acked, report.updates)
        else:
            say("unknown", cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
