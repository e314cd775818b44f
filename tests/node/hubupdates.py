"""Hub status updates as the node receives them, for UI tests that need a decided request; and a
node that fails to apply the hub's answer to a batch, for sync tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from node import apply, meta, sync
from node.apply import apply_updates
from node.db import database
from node.models import HubUpdate, Request
from shared import protocol


def hub_decides(req: Request, action: str, state: str, **body: Any) -> Request:
    """Apply one case.status update from the hub to a request, as a sync would."""
    cseq = (HubUpdate.select().count() or 0) + 1
    update = {
        "cseq": cseq,
        "type": "case.status",
        "request_id": req.request_id,
        "at": protocol.iso(protocol.utcnow()),
        "receipt_code": req.receipt_code,
        "state": state,
        "window": "W09",
        "window_name": "国土与城建",
        "action": action,
        "missing": [],
        "missing_names": [],
        **body,
    }
    with database.atomic():
        apply_updates([update])
        meta.put("last_sync_ok", protocol.iso(protocol.utcnow()))
    return Request.get_by_id(req.request_id)


@contextmanager
def applying_fails_at(nth: int) -> Iterator[None]:
    """Inside, the hub's answer to the node's nth batch fails to apply (the disk is full); the rest apply."""
    real = apply.apply_response
    batches = 0

    def flaky(body: dict[str, Any], batch: Any) -> dict[str, int]:
        nonlocal batches
        if batch is not None:
            batches += 1
            if batches == nth:
                raise OSError("disk full")
        return real(body, batch)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync, "apply_response", flaky)
        yield
