"""Hub status updates as the node receives them, for UI tests that need a decided request."""

from __future__ import annotations

from typing import Any

from node import meta
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
