"""Rebuilding this village's copy of the hub's log after the hub lost part of it.

A hub restored from an older backup (or a promoted standby that missed the last commits)
numbers new decisions from its older end, re-using numbers this node already holds for
decisions the hub no longer knows. Numbers cannot be trusted across that, so when an answer
shows another log (a new epoch, or another entry at our cursor: shared/downstream.py) the node
fetches the hub's whole log for the village again, a page at a time into StagedUpdate, and
swaps it in with one transaction: every request's status is derived again from the hub's
current log, and every decision the node had that the hub no longer holds is kept in
ForgottenUpdate, shown to the clerk (sync page, request page, attention list).

A link failure mid-way loses nothing: the pages fetched so far stay staged and the next
round goes on from there, unless the epoch changed again, which starts over.
"""

from __future__ import annotations

from typing import Any

from shared import downstream, protocol, states

from . import meta
from .apply import ATTENTION_ACTIONS, _executemany, _update_request
from .capture import now
from .models import ForgottenUpdate, HubUpdate, Request, StagedUpdate

KEY = "reconcile"


def pending() -> dict[str, Any] | None:
    """The rebuild under way ({epoch, next, since}), or None."""
    value = meta.get(KEY)
    return value if isinstance(value, dict) else None


def log_differs(body: dict[str, Any], updates: list[dict[str, Any]]) -> bool:
    """True when the answer comes from a log other than the one this node holds."""
    epoch = body.get("epoch")
    mine = meta.get("hub_epoch")
    if isinstance(epoch, str) and mine is not None and epoch != mine:
        return True
    cursor = int(meta.get("cursor", 0))
    check = body.get("at_cursor")
    if isinstance(check, dict) and isinstance(check.get("cseq"), int):
        at = check["cseq"]
        if at > cursor:
            return False  # an answer to an older position of ours cannot say more than what we hold
        if at > 0 and not _holds(at, str(check.get("digest", ""))):
            return True
        if at == cursor:
            return False  # no entry lies between its position and ours
        # Entries the answer repeats between its position and ours must be the ones we hold.
        return any(
            isinstance(up.get("cseq"), int)
            and at < up["cseq"] <= cursor
            and not _holds(up["cseq"], downstream.entry_digest(up))
            for up in updates
        )
    # A hub without the check: only its end below our cursor shows a loss.
    out_seq = body.get("out_seq")
    return isinstance(out_seq, int) and out_seq < cursor


def _holds(cseq: int, digest: str) -> bool:
    row = HubUpdate.get_or_none(HubUpdate.cseq == cseq)
    return row is not None and downstream.entry_digest(row.body) == digest


def start(epoch: Any) -> None:
    """Begin a rebuild (caller holds the transaction)."""
    StagedUpdate.delete().execute()
    meta.put(
        KEY, {"epoch": epoch if isinstance(epoch, str) else None, "next": 0, "since": protocol.iso(protocol.utcnow())}
    )


def follow_epoch(body: dict[str, Any]) -> None:
    """An answer during a rebuild: a newer epoch than the one being fetched starts it over."""
    state = pending()
    epoch = body.get("epoch")
    if state is not None and isinstance(epoch, str) and state.get("epoch") not in (None, epoch):
        start(epoch)


def apply_page(body: dict[str, Any]) -> bool:
    """Stage one page of the hub's log (answer to a poll from `next`); True when the log is complete.

    Caller holds the transaction. The last page swaps the staged log in.
    """
    state = pending()
    if state is None:
        return True
    epoch = body.get("epoch")
    if state.get("epoch") is None and isinstance(epoch, str):
        state["epoch"] = epoch
    elif isinstance(epoch, str) and epoch != state.get("epoch"):
        start(epoch)
        return False
    position = int(state["next"])
    check = body.get("at_cursor")
    if position > 0 and isinstance(check, dict):
        row = StagedUpdate.get_or_none(StagedUpdate.cseq == position)
        if check.get("cseq") != position or row is None or downstream.entry_digest(row.body) != check.get("digest"):
            start(epoch)  # the hub's log moved under us again: fetch it from the start
            return False
    fresh = sorted(
        (up for up in body.get("updates") or [] if isinstance(up.get("cseq"), int) and up["cseq"] > position),
        key=lambda up: up["cseq"],
    )
    staged: list[tuple[Any, ...]] = []
    for up in fresh:
        if up["cseq"] != position + 1:
            break
        staged.append((up["cseq"], str(up.get("request_id", ""))[:40], str(up.get("type", ""))[:40], up))
        position = up["cseq"]
    _executemany(StagedUpdate, ("cseq", "request_id", "type", "body"), staged)
    state["next"] = position
    meta.put(KEY, state)
    if body.get("more"):
        return False
    finish(state)
    return True


def finish(state: dict[str, Any]) -> dict[str, Any]:
    """Swap the staged log in, derive every request's status again, keep what the hub forgot."""
    new = [row.body for row in StagedUpdate.select().order_by(StagedUpdate.cseq)]
    old = [row.body for row in HubUpdate.select().order_by(HubUpdate.cseq)]
    kept = {downstream.content_key(up) for up in new}
    at = now()
    epoch = str(state.get("epoch") or "")
    forgotten = [up for up in old if downstream.content_key(up) not in kept]
    for up in forgotten:
        ForgottenUpdate.create(
            request_id=str(up.get("request_id", ""))[:40],
            old_cseq=int(up.get("cseq", 0)),
            type=str(up.get("type", ""))[:40],
            body=up,
            epoch=epoch,
            noticed_at=at,
        )
    HubUpdate.delete().execute()
    _executemany(
        HubUpdate,
        ("cseq", "request_id", "type", "body", "applied_at"),
        [(up["cseq"], str(up.get("request_id", ""))[:40], str(up.get("type", ""))[:40], up, at) for up in new],
    )
    StagedUpdate.delete().execute()
    by_request: dict[str, list[dict[str, Any]]] = {}
    for up in new:
        by_request.setdefault(str(up.get("request_id", "")), []).append(up)
    lost_cases = {str(up.get("request_id", "")) for up in old} - set(by_request)
    withdrawn = {
        str(up.get("request_id", ""))
        for up in forgotten
        if up.get("type") != "case.status" or up.get("action") in ATTENTION_ACTIONS
    }
    changed = 0
    concerned = set(by_request) | lost_cases
    for req in Request.select():
        if req.request_id not in concerned:
            continue
        before = (req.state, req.deadline, req.reason, req.hub_missing)
        attention = req.needs_attention
        if req.request_id in by_request:
            for up in by_request[req.request_id]:
                _update_request(req, up)
        else:
            # The hub lost the request itself: it goes up again with the events the hub lacks.
            req.state = states.QUEUED
            req.deadline = req.reason = req.legal_basis = req.note = req.status_at = None
            req.hub_missing, req.hub_missing_names = [], []
        moved = before != (req.state, req.deadline, req.reason, req.hub_missing)
        req.needs_attention = attention or moved or req.request_id in withdrawn
        changed += int(moved)
        req.updated_at = at
        req.save()
    meta.put("cursor", new[-1]["cseq"] if new else 0)
    if state.get("epoch"):
        meta.put("hub_epoch", state["epoch"])
    meta.put(KEY, None)
    summary = {
        "at": protocol.iso(protocol.utcnow()),
        "epoch": epoch,
        "forgotten": len(forgotten),
        "changed": changed,
        "entries": len(new),
    }
    meta.put("last_reconcile", summary)
    return summary


def forgotten_rows(limit: int = 200) -> list[dict[str, Any]]:
    """Decisions the hub forgot, newest first, with the request's receipt code and its status now."""
    rows = list(ForgottenUpdate.select().order_by(ForgottenUpdate.id.desc()).limit(limit))
    reqs = {
        r.request_id: r
        for r in Request.select(Request.request_id, Request.receipt_code, Request.state).where(
            Request.request_id.in_([f.request_id for f in rows])
        )
    }
    out = []
    for f in rows:
        req = reqs.get(f.request_id)
        out.append(
            {
                "request_id": f.request_id,
                "receipt_code": req.receipt_code if req else f.body.get("receipt_code", ""),
                "was": f.body.get("state_label") or states.LABELS.get(str(f.body.get("state")), f.type),
                "action": f.body.get("action"),
                "decided_at": f.body.get("at"),
                "now": states.LABELS.get(req.state, req.state) if req else "",
                "noticed_at": f.noticed_at,
            }
        )
    return out


def forgotten_for(request_id: str) -> list[ForgottenUpdate]:
    """The forgotten decisions on one request, oldest first (for its page)."""
    return list(
        ForgottenUpdate.select().where(ForgottenUpdate.request_id == request_id).order_by(ForgottenUpdate.old_cseq)
    )
