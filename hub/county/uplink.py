"""The township hub's link to its county hub: the village node's own client, with the township as the node.

A township enrols with its county exactly as a village node enrols with a township, and syncs
with the node's code (node/enrolment, node/outbox, node/sync: pinned keys, signed hash-chained
batches, stored acks, hello/resume, backoff). The node's state is a node's data directory of
its own inside the hub's, ``county-uplink/`` (database ``uplink.sqlite3``, key ``uplink.key``,
and the attachments it sends), bound to the node's models in this process only; the hub's own
database and files are never touched by that code.

Going up: each case passed up (报县级) and not yet answered becomes one ``case.passed_up``
event, queued once per case (the queue is filled from the hub's referrals before every round,
so a case passed up while the county was unreachable goes with the next round), followed by an
``attachment.added`` for each of its scans the township holds, whose bytes then go by hash in
resumable chunks as a village's do (a scan that reaches the township later follows while the
case waits).
Coming down: the county's answer arrives as a case.status update; the township records it with
hub/cases.record_county_answer, the rule an answer typed in from the county's paper follows, so
it reaches the village on its next sync. An answer the township cannot take (a case never passed
up, one already answered) is refused by that rule with its code, audited, and nothing is stored.

The county link (this module, and beside it county/bundles.py, county/figures_up.py and the
county commands in hub/cli.py) is the one part of the hub that imports node code (lazily, inside
functions), against the rule that hub and node depend only on shared/: the issue asks for the township to be the county's
node "exactly as" a village is, and a second client beside node/sync would be the copy that drifts.
Moving the client into shared/ would need it to stop owning a database; that is left for later.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import messages, signing, states
from shared.msgid import N_, concatenated

from .. import audit
from . import figures_up
from ..cases import CaseError, record_county_answer
from ..models import Case, CountyReferral, HubEvent

log = logging.getLogger("daiban.hub.county")

UPLINK_DIR = "county-uplink"  # inside the hub's data directory
DB_FILE = "uplink.sqlite3"
KEY_FILE = "uplink.key"
LOCK_FILE = "uplink.lock"
APPLIED = "county_applied_cseq"  # the uplink's last county update the township has recorded
APPLIED_EPOCH = "county_applied_epoch"  # the county log's epoch those numbers belong to
COUNTY_ACTOR = "county"  # who the township's log names for an answer that came from the county hub
PASSED_UP = "case.passed_up"
REFUSED_ACTION = "county.answer_refused"

_bound: dict[str, Any] = {}
_binding = threading.Lock()  # web threads may open the uplink at once (the fleet page shows its state)


@dataclass
class CountySync:
    """What one round with the county did."""

    sent: int = 0
    acked: int = 0
    refused_up: int = 0
    decisions: int = 0
    scans: int = 0  # attachments the county now holds, verified by their hash
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (request id, code, message)

    def summary(self) -> str:
        """One line, Chinese until shown (the CLI and the job log translate it)."""
        parts = [
            N_(
                "上传批次 %(sent)s，县级确认事件 %(acked)s（退回 %(refused)s），录入县级批复 %(decisions)s 件",
                sent=self.sent,
                acked=self.acked,
                refused=self.refused_up,
                decisions=self.decisions,
            )
        ]
        if self.scans:
            parts.append(N_("，上传附件 %(count)s 个", count=self.scans))
        if self.refused:
            parts.append(N_("，未能录入 %(count)s 件", count=len(self.refused)))
        return concatenated(parts)


def key(data_dir: str | Path) -> Ed25519PrivateKey:
    """The township's key as the county's node (its own file: the hub key stays the villages' anchor)."""
    return signing.load_or_create(home(data_dir) / KEY_FILE)


def home(data_dir: str | Path) -> Path:
    """The uplink's own directory in the hub's data directory (created on first use)."""
    path = Path(data_dir) / UPLINK_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def bind(data_dir: str | Path) -> None:
    """Point the node's models at this hub's uplink database, creating it and its schema on first use."""
    from node import db as node_db
    from node.schema import migrate

    path = str(home(data_dir) / DB_FILE)
    with _binding:
        if _bound.get("path") == path and node_db.database.obj is _bound.get("db"):
            return
        db = node_db.open_database(path)
        node_db.bind(db)
        with node_db.database.connection_context():
            migrate()
        _bound.update(path=path, db=db)


@contextmanager
def opened(data_dir: str | Path) -> Iterator[None]:
    """The uplink database bound and connected for the duration."""
    from node.db import database

    bind(data_dir)
    with database.connection_context():
        yield


def enrolled(data_dir: str | Path) -> bool:
    """True once this township holds a county's pinned key."""
    if not (Path(data_dir) / UPLINK_DIR / DB_FILE).exists():
        return False
    from node import meta

    with opened(data_dir):
        return bool(meta.get("hub_pubkey"))


def enrol(data_dir: str | Path, county_url: str, code: str) -> dict[str, Any]:
    """Enrol with the county hub using its one-time code (SPAKE2 proof, pinned key), as a village node does."""
    from node.enrolment import enroll
    from node.transport import HttpTransport
    from shared.bundle import box_public_b64

    from .bundles import box_key

    with opened(data_dir):
        # The box key lets the county seal reply bundles to us when the line is down (hub/county/bundles.py).
        box = box_public_b64(box_key(data_dir))
        return enroll(HttpTransport(county_url), key(data_dir), code, county_url, box)


def status(data_dir: str | Path) -> dict[str, Any]:
    """Where the link stands: the county's address and name for us, last good sync, last error, queue."""
    from node import meta, outbox

    if not (Path(data_dir) / UPLINK_DIR / DB_FILE).exists():
        return {"enrolled": False}
    with opened(data_dir):
        return {
            "enrolled": bool(meta.get("hub_pubkey")),
            "county_url": meta.get("hub_url"),
            "name": meta.get("village"),
            "last_sync_ok": meta.get("last_sync_ok"),
            "last_error": meta.get("last_error"),
            "queued": outbox.queued_count(),
        }


def _opinion(case: Case) -> str:
    """The township's 初审 opinion: what its staff wrote when passing the case up."""
    for entry in HubEvent.select().where(HubEvent.request_id == case.request_id).order_by(HubEvent.id.desc()):
        body = entry.body if isinstance(entry.body, dict) else {}
        if body.get("action") == "to_county":
            return "；".join(str(body[k]) for k in ("reason", "note") if body.get(k))[:2000]
    return ""


def passed_up_data(case: Case, referral: CountyReferral) -> dict[str, Any]:
    """The event data of a case passed up, as declared in shared/messages.PassedUpData."""
    captured = case.captured if isinstance(case.captured, dict) else {}
    data = {
        "receipt_code": case.receipt_code,
        "item_code": case.item_code,
        "village": case.village.name,
        "applicant_name": case.applicant_name,
        "id_number": case.id_number,
        "phone": case.phone,
        "captured": captured,
        "materials_brought": list(case.materials_brought or []),
        "received_on": case.received_on.isoformat(),
        "passed_up_on": referral.passed_up_on.isoformat(),
        "passed_up_by": referral.passed_up_by,
        "opinion": _opinion(case),
    }
    messages.convert(data, messages.PassedUpData)  # what we send fits what the county will check
    return data


def queue_passed_up(data_dir: str | Path) -> int:
    """Queue a case.passed_up event for every waiting referral not yet queued, then its scans (uplink bound)."""
    from node.capture import append_event
    from node.db import database
    from node.models import Event

    waiting = (
        Case.select(Case, CountyReferral)
        .join(CountyReferral, on=(CountyReferral.request_id == Case.request_id))
        .where(CountyReferral.answer.is_null() & (Case.state == states.PASSED_UP))
        .order_by(CountyReferral.passed_up_on, Case.request_id)
    )
    queued = 0
    for case in waiting:
        referral = case.countyreferral
        if not Event.select().where((Event.request_id == case.request_id) & (Event.type == PASSED_UP)).exists():
            with database.atomic():
                append_event(PASSED_UP, case.request_id, referral.passed_up_by, passed_up_data(case, referral))
            queued += 1
        _queue_scans(data_dir, case, referral.passed_up_by)
    return queued


def _queue_scans(data_dir: str | Path, case: Case, clerk: str) -> None:
    """Announce each scan of the case the township holds and the county was not told of (after the case itself)."""
    from node.attachments import path_for
    from node.capture import append_event, now
    from node.db import database
    from node.models import Attachment as Sent

    from ..attachments import stored_path
    from ..models import Attachment

    for att in Attachment.select().where((Attachment.case == case) & Attachment.received).order_by(Attachment.id):
        if Sent.select().where((Sent.request_id == case.request_id) & (Sent.sha256 == att.sha256)).exists():
            continue
        target = path_for(att.sha256, home(data_dir))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # The same bytes, not a copy: the township's store keeps them by hash and never rewrites them.
            os.link(stored_path(data_dir, att.sha256), target)
        data = {"sha256": att.sha256, "size": int(att.size), "mime": att.mime, "name": att.name}
        if att.material_code:
            data["material_code"] = att.material_code
        with database.atomic():
            event = append_event("attachment.added", case.request_id, clerk, data)
            Sent.create(
                sha256=att.sha256,
                request_id=case.request_id,
                event_id=event.event_id,
                size=int(att.size),
                name=att.name,
                material_code=att.material_code,
                created_at=now(),
            )


def apply_decisions(report: CountySync) -> None:
    """Record every county answer received since the last one recorded, each once, by the paper rule."""
    from node import meta
    from node.db import database
    from node.models import HubUpdate

    done = int(meta.get(APPLIED, 0))
    epoch = meta.get("hub_epoch")
    if meta.get(APPLIED_EPOCH) != epoch:
        # The county's log was rebuilt (restored, or failed over): its entries are renumbered, so
        # read it all again; answers already recorded are recognised and passed over.
        done = 0
    for row in HubUpdate.select().where(HubUpdate.cseq > done).order_by(HubUpdate.cseq):
        body = row.body if isinstance(row.body, dict) else {}
        if body.get("type") == "case.status" and body.get("action") in states.COUNTY_ANSWERS:
            _record(body, report)
        with database.atomic():
            meta.put(APPLIED, row.cseq)
    with database.atomic():
        meta.put(APPLIED_EPOCH, epoch)


def _record(body: dict[str, Any], report: CountySync) -> None:
    request_id = str(body.get("request_id", ""))[:40]
    try:
        decision = messages.convert(body, messages.CountyDecision)
    except messages.MessageError as exc:
        _refused(report, request_id, "bad_decision", f"县级批复内容不符合规定（{exc.field}）")
        return
    case = Case.get_or_none(Case.request_id == decision.request_id)
    if case is None:
        _refused(report, request_id, "not_passed_up", "本乡镇没有这件申请，县级批复未录入")
        return
    held = CountyReferral.get_or_none(CountyReferral.request_id == case.request_id)
    if held is not None and (held.answer, held.doc_no) == (
        states.COUNTY_ANSWERS[decision.action],
        decision.county_doc_no,
    ):
        return  # this very answer is recorded already (read again after the county's log was rebuilt)
    try:
        record_county_answer(
            case.receipt_code,
            decision.action,
            COUNTY_ACTOR,
            doc_no=decision.county_doc_no,
            doc_date=decision.county_doc_date,
            reason=decision.reason,
            note=decision.county_note,
        )
    except CaseError as exc:
        # Refused by the rule itself (never passed up, already answered …): audited there, nothing stored.
        _refused(report, request_id, exc.code, str(exc.message), case.receipt_code)
        return
    report.decisions += 1


def _refused(report: CountySync, request_id: str, code: str, message: str, receipt_code: str = "") -> None:
    log.warning("county answer for %s not recorded: %s", request_id, code)
    # Seen by the supervisor on the fleet page (hub/fleet.county_link), by receipt code when we have the case.
    audit.record(COUNTY_ACTOR, REFUSED_ACTION, receipt_code or request_id, {"code": code, "request_id": request_id})
    report.refused.append((request_id, code, message))


@contextmanager
def _one_round_at_a_time(data_dir: str | Path) -> Iterator[None]:
    # The CLI and the scheduler may both try: the second waits rather than signing a batch alongside.
    with open(home(data_dir) / LOCK_FILE, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def sync(data_dir: str | Path, transport: Any = None) -> CountySync:
    """One round with the county: queue passed-up cases, send, fetch answers, record them; SyncError on trouble."""
    from node import meta
    from node.sync import SyncClient
    from node.transport import HttpTransport, RefusedError

    report = CountySync()
    with _one_round_at_a_time(data_dir), opened(data_dir):
        if not meta.get("hub_pubkey"):
            raise RefusedError("本乡镇中心尚未在县级中心注册，请先运行 daiban hub county-enroll", "not_enrolled")
        queue_passed_up(data_dir)
        figures_up.queue_reports()
        client = SyncClient(transport or HttpTransport(meta.get("hub_url")), key(data_dir))
        try:
            got = client.round()
        finally:
            # Answers already received are recorded even when the round stopped half-way.
            apply_decisions(report)
        report.sent, report.acked, report.refused_up, report.scans = (
            got.batches,
            got.acked,
            got.refused,
            got.attachments,
        )
    return report


_backoff: dict[str, float] = {"failures": 0, "next_try": 0.0}


def sync_job() -> str:
    """The scheduler's county job: a round when enrolled, with the node's jittered backoff after a failure."""
    from flask import current_app

    from node.scheduler import wait_after
    from node.transport import SyncError

    data_dir = current_app.config["DATA_DIR"]
    if not enrolled(data_dir):
        return "not enrolled with a county"
    if time.monotonic() < _backoff["next_try"]:
        return "waiting after a failure"
    try:
        report = sync(data_dir)
    except SyncError as exc:
        _backoff["failures"] += 1
        wait = wait_after(int(_backoff["failures"]), exc)
        _backoff["next_try"] = time.monotonic() + wait
        return f"county sync failed ({exc.code}): {exc.message}; next try in {wait:.0f}s"
    _backoff.update(failures=0, next_try=0.0)
    return report.summary()
