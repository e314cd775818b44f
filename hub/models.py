"""The hub's tables: villages and their nodes, ingested node events, cases and the hub's own log."""

from __future__ import annotations

import peewee

from .db import BaseModel, JSONField


class Village(BaseModel):
    name = peewee.CharField(unique=True, max_length=100)
    prefix = peewee.CharField(unique=True, max_length=3)  # 2 symbols, 3 past the 960th village (schema 11)
    created_at = peewee.DateTimeField()


class Node(BaseModel):
    """A village node as the hub knows it: its key, where its chain stands, its health."""

    node_id = peewee.CharField(primary_key=True, max_length=40)
    village = peewee.ForeignKeyField(Village, backref="nodes", unique=True)
    pubkey = peewee.CharField(max_length=64)
    fingerprint = peewee.CharField(max_length=32)
    status = peewee.CharField(max_length=16, default="active")  # active | revoked
    enrolled_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)
    last_seq = peewee.BigIntegerField(default=0)
    last_hash = peewee.CharField(max_length=64)
    out_seq = peewee.BigIntegerField(default=0)  # last cseq of the hub's log for this node
    reported_cursor = peewee.BigIntegerField(default=0)
    pending_reported = peewee.IntegerField(default=0)
    last_sync_at = peewee.DateTimeField(null=True)
    clock_offset_s = peewee.IntegerField(null=True)
    app_version = peewee.CharField(max_length=32, null=True)
    catalogue_version = peewee.IntegerField(default=0)
    protocol_version = peewee.IntegerField(null=True)  # schema 2: what the node last spoke (rolling upgrades)


class EnrolmentCode(BaseModel):
    code_hash = peewee.CharField(unique=True, max_length=64)
    village = peewee.ForeignKeyField(Village, backref="codes")
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)


class Batch(BaseModel):
    """A batch as ingested; its stored ack is what a re-send gets back."""

    # No index of its own: (node, first_seq) below serves every look-up by node (schema 15).
    node = peewee.ForeignKeyField(Node, backref="batches", index=False)
    first_seq = peewee.BigIntegerField()
    last_seq = peewee.BigIntegerField()
    hash = peewee.CharField(max_length=64)
    prev_hash = peewee.CharField(max_length=64)
    node_clock = peewee.CharField(max_length=40)
    received_at = peewee.DateTimeField()
    ack = JSONField()

    class Meta:
        indexes = ((("node", "first_seq"), True),)


class NodeEvent(BaseModel):
    """One event of a node's log, exactly once per (node, seq)."""

    # No index of its own: (node, seq) below serves every look-up by node (schema 14).
    node = peewee.ForeignKeyField(Node, backref="events", index=False)
    seq = peewee.BigIntegerField()
    event_id = peewee.CharField(max_length=40, unique=True)
    type = peewee.CharField(max_length=40)
    request_id = peewee.CharField(max_length=40, index=True)
    body = JSONField()
    result = peewee.CharField(max_length=16)  # ok | refused
    reason_code = peewee.CharField(max_length=40, null=True)
    reason = peewee.TextField(null=True)

    class Meta:
        indexes = ((("node", "seq"), True),)


class Case(BaseModel):
    """A request as the hub handles it: window, state, deadline (the hub owns these)."""

    request_id = peewee.CharField(primary_key=True, max_length=40)
    receipt_code = peewee.CharField(unique=True, max_length=12)
    # Schema 9: no node for a request received at the centre's counter (source == "counter").
    # Schema 15: no index on node, item_code or source: no query looks cases up by one of them alone
    # (a case is found by its id, receipt code, window, state, village, assignee or applicant), and
    # each cost one more index insert per case a batch writes (docs/performance.md).
    node = peewee.ForeignKeyField(Node, backref="cases", null=True, index=False)
    # The applicant's village; at the counter, the one the window staff chose. Indexed: the public
    # results filtered by village read a few thousand cases by it, not all of them.
    village = peewee.ForeignKeyField(Village, backref="cases")
    item_code = peewee.CharField(max_length=16)
    window = peewee.CharField(max_length=8, index=True)
    mode = peewee.CharField(max_length=16)
    state = peewee.CharField(max_length=20, index=True)
    assignee = peewee.CharField(max_length=64, null=True)
    clerk = peewee.CharField(max_length=64, null=True)
    applicant_name = peewee.CharField(max_length=64)
    id_number = peewee.CharField(max_length=18)
    phone = peewee.CharField(max_length=20)
    captured = JSONField()
    materials_brought = JSONField(default=list)
    materials_missing = JSONField(default=list)
    received_at = peewee.DateTimeField()
    received_on = peewee.DateField()
    deadline = peewee.DateField(null=True)
    paused_since = peewee.DateField(null=True)
    paused_days = peewee.IntegerField(default=0)
    urgency = peewee.CharField(max_length=8, default="green")
    closed_at = peewee.DateTimeField(null=True)
    satisfaction = peewee.CharField(max_length=16, null=True)
    updated_at = peewee.DateTimeField()
    # Schema 5 (the centre's promises): the clock runs from 受理, the day the materials are complete.
    clock_start = peewee.DateField(null=True)
    accepted_on = peewee.DateField(null=True)
    materials_asks = peewee.IntegerField(default=0)  # 补正 notices given, the village's at capture included
    materials_asked_on = peewee.DateField(null=True)  # the first one, for the five-working-day rule
    # schema 7: where the request was received (village | counter) and, at the counter, who took it (首问责任人)
    source = peewee.CharField(max_length=8, default="village")
    received_by = peewee.CharField(max_length=64, null=True)
    # schema 9: 两头受理: the receipt code of an earlier open request of the same person for the same item
    duplicate_of = peewee.CharField(max_length=12, null=True)

    class Meta:
        # Routing counts each person's open cases for every new request; 两头受理 and search look
        # a person up by ID number (schema 9). Schema 17: the ID number's index also holds what the
        # open-cases look-up of 两头受理 reads (hub/duplicates._OPEN_CASES), so a returning batch's
        # look-up reads no case row: one index written per case, as before, only wider.
        indexes = (
            (("assignee", "state"), False),
            (("id_number", "item_code", "state", "received_at", "receipt_code"), False),
        )


class HubEvent(BaseModel):
    """The hub's log for one village, numbered per node so the node's cursor never skips.

    A counter case has no village node (schema 9): its entries have no node, numbered per case.
    """

    # No index of its own: (node, cseq) below serves every look-up by node (schema 14).
    node = peewee.ForeignKeyField(Node, backref="hub_events", null=True, index=False)
    cseq = peewee.BigIntegerField()
    request_id = peewee.CharField(max_length=40, index=True)
    type = peewee.CharField(max_length=40)
    body = JSONField()
    actor = peewee.CharField(max_length=64)
    at = peewee.DateTimeField()

    class Meta:
        indexes = ((("node", "cseq"), True),)


class ForkAlert(BaseModel):
    """A sequence seen twice with different content: for the supervisor."""

    node = peewee.ForeignKeyField(Node, backref="forks")
    first_seq = peewee.BigIntegerField()
    last_seq = peewee.BigIntegerField()
    stored_hash = peewee.CharField(max_length=64, null=True)
    offered_hash = peewee.CharField(max_length=64)
    at = peewee.DateTimeField()
    resolved = peewee.BooleanField(default=False)


class CatalogueVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    data = JSONField()
    created_at = peewee.DateTimeField()
    note = peewee.TextField(default="")


class NodeBoxKey(BaseModel):
    """The X25519 key a node receives USB response bundles with, given at enrolment."""

    node = peewee.ForeignKeyField(Node, primary_key=True, backref="box_keys")
    pubkey = peewee.CharField(max_length=64)


class Attachment(BaseModel):
    """A scan a node announced for a case (attachment.added); received once its bytes passed the hash check."""

    sha256 = peewee.CharField(max_length=64, index=True)
    case = peewee.ForeignKeyField(Case, backref="attachments")
    size = peewee.BigIntegerField()
    mime = peewee.CharField(max_length=40)
    name = peewee.CharField(max_length=200)
    material_code = peewee.CharField(max_length=40, null=True)
    received = peewee.BooleanField(default=False)
    received_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("sha256", "case"), True),)


class BundleImport(BaseModel):
    """A USB bundle already imported, with the response bundle written for it (a replay changes nothing)."""

    bundle_id = peewee.CharField(primary_key=True, max_length=40)
    node = peewee.ForeignKeyField(Node, backref="bundle_imports")
    imported_at = peewee.DateTimeField()
    messages = peewee.IntegerField()
    response = peewee.BlobField()


class Setting(BaseModel):
    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()


class JobRun(BaseModel):
    """One run of a scheduled hub job (schema 2): proves a job ran, and ran once."""

    job = peewee.CharField(max_length=40, index=True)
    started_at = peewee.DateTimeField()
    finished_at = peewee.DateTimeField(null=True)
    ok = peewee.BooleanField(default=False)
    pid = peewee.IntegerField()
    detail = peewee.TextField(default="")


class SyncStat(BaseModel):
    """Sync requests counted by HTTP status and latency bucket (schema 2), shared by all workers."""

    status = peewee.IntegerField()
    bucket = peewee.IntegerField()  # index into hub.metrics.LATENCY_BUCKETS
    count = peewee.BigIntegerField(default=0)
    sum_ms = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("status", "bucket"), True),)


ALL_MODELS = [
    Village,
    Node,
    EnrolmentCode,
    Batch,
    NodeEvent,
    Case,
    HubEvent,
    ForkAlert,
    CatalogueVersion,
    Setting,
    NodeBoxKey,
    Attachment,
    BundleImport,
    JobRun,
    SyncStat,
]


class Staff(BaseModel):
    """A person at the service centre: window staff, supervisor or admin (一人多岗: several windows)."""

    username = peewee.CharField(unique=True, max_length=40)
    name = peewee.CharField(max_length=40)
    password_hash = peewee.CharField(max_length=200)
    role = peewee.CharField(max_length=16, default="staff")  # staff | supervisor | admin
    windows = JSONField(default=list)
    on_duty = peewee.BooleanField(default=True)
    active = peewee.BooleanField(default=True)
    failed_logins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField()
    # schema 10: the person's B角 (AB角), who takes over their open cases when they are marked away
    backup = peewee.CharField(max_length=40, null=True)


ALL_MODELS.append(Staff)


class Assignment(BaseModel):
    """Who was given responsibility for a case, when and by whom (routing and reassignment)."""

    username = peewee.CharField(max_length=40, index=True)
    window = peewee.CharField(max_length=8)
    request_id = peewee.CharField(max_length=40, null=True, index=True)
    previous = peewee.CharField(max_length=40, null=True)
    by = peewee.CharField(max_length=64)
    reason = peewee.TextField(default="")
    at = peewee.DateTimeField(index=True)

    class Meta:
        # Routing's tie-break reads each person's latest assignment.
        indexes = ((("username", "at"), False),)


# Older databases also hold a status_lookup table: the status-page limit now lives in hub.ratelimit,
# in memory or the limiter storage, and that table is no longer written.
ALL_MODELS += [Assignment]


class CaseAlert(BaseModel):
    """The moment a case's deadline colour turned yellow or red, recorded once per colour."""

    case = peewee.ForeignKeyField(Case, backref="alerts", column_name="request_id", field="request_id")
    level = peewee.CharField(max_length=8)  # yellow | red
    at = peewee.DateTimeField()
    on_day = peewee.DateField()
    deadline = peewee.DateField(null=True)

    class Meta:
        indexes = ((("case", "level"), True),)


class AuditEntry(BaseModel):
    """One link of the append-only audit chain: who did what to what, hashed onto the one before."""

    seq = peewee.BigIntegerField(unique=True)
    at = peewee.DateTimeField()
    actor = peewee.CharField(max_length=64)
    action = peewee.CharField(max_length=40, index=True)
    target = peewee.CharField(max_length=120)
    detail = JSONField(default=dict)
    prev_hash = peewee.CharField(max_length=64)
    # Not unique (schema 17): the hash covers the entry's seq, which is; no query looks an entry up by it.
    hash = peewee.CharField(max_length=64)


ALL_MODELS.extend([CaseAlert, AuditEntry])


class EnrolmentSecret(BaseModel):
    """The SPAKE2 side of an enrolment code (enrolment v2): its public id, its secret until used, attempts.

    A table of its own rather than columns on EnrolmentCode, so it needs no migration step: older
    codes have no row here and cannot be used by a version-2 node (they expire within days anyway).
    """

    code = peewee.ForeignKeyField(
        EnrolmentCode, backref="secrets", unique=True, on_delete="CASCADE", column_name="enrolment_code"
    )
    code_id = peewee.CharField(max_length=8, index=True)
    # SPAKE2 needs the code itself; it is wiped when the code is used or burned.
    secret = peewee.CharField(max_length=16, null=True)
    attempts = peewee.IntegerField(default=0)
    # The exchange in progress: {pubkey, box_pubkey, app_version, confirm_hash}.
    pending = JSONField(null=True)


class HelloNonce(BaseModel):
    """Nonces of signed hellos seen within the freshness window, so a captured hello cannot be replayed."""

    node_id = peewee.CharField(max_length=40)
    nonce = peewee.CharField(max_length=64)
    seen_at = peewee.DateTimeField(index=True)

    class Meta:
        indexes = ((("node_id", "nonce"), True),)


ALL_MODELS.extend([EnrolmentSecret, HelloNonce])


class Rating(BaseModel):
    """好差评 (schema 5): one rating per matter; a 差评 carries its rectification, call-back and appeal."""

    case = peewee.ForeignKeyField(Case, backref="ratings", column_name="request_id", field="request_id", unique=True)
    level = peewee.CharField(max_length=16)
    comment = peewee.TextField(default="")
    channel = peewee.CharField(max_length=16)  # shared.ratings.CHANNELS
    village = peewee.ForeignKeyField(Village, backref="ratings")
    window = peewee.CharField(max_length=8, index=True)
    staff = peewee.CharField(max_length=40, null=True, index=True)  # who handled the matter when it was rated
    entered_by = peewee.CharField(max_length=64, default="")
    rated_at = peewee.DateTimeField(index=True)
    rated_on = peewee.DateField()
    bad = peewee.BooleanField(default=False, index=True)
    # 差评 only: open -> rectified, or appealed -> void (appeal upheld) / open (appeal rejected).
    state = peewee.CharField(max_length=12, default="", index=True)
    due = peewee.DateField(null=True)
    rectify_note = peewee.TextField(null=True)
    rectified_by = peewee.CharField(max_length=40, null=True)
    rectified_at = peewee.DateTimeField(null=True)
    rectified_on = peewee.DateField(null=True)
    callback_note = peewee.TextField(null=True)
    callback_result = peewee.CharField(max_length=16, null=True)
    callback_by = peewee.CharField(max_length=40, null=True)
    callback_at = peewee.DateTimeField(null=True)
    appeal_reason = peewee.TextField(null=True)
    appeal_by = peewee.CharField(max_length=40, null=True)
    appeal_at = peewee.DateTimeField(null=True)
    appeal_decision = peewee.CharField(max_length=12, null=True)  # upheld | rejected
    appeal_note = peewee.TextField(null=True)
    appeal_decided_by = peewee.CharField(max_length=40, null=True)


class MailMessage(BaseModel):
    """镇长信箱 (schema 5): a consultation, complaint or suggestion, its routing, deadline and reply."""

    code = peewee.CharField(unique=True, max_length=12)
    message_id = peewee.CharField(unique=True, max_length=40)
    node = peewee.ForeignKeyField(Node, backref="messages", null=True)  # the reply goes back down to it
    village = peewee.ForeignKeyField(Village, backref="messages", null=True)
    channel = peewee.CharField(max_length=8)  # village | online
    category = peewee.CharField(max_length=12)  # shared.mailbox.CATEGORIES
    content = peewee.TextField()
    name = peewee.CharField(max_length=64, default="")
    phone = peewee.CharField(max_length=20, default="")
    check = peewee.CharField(max_length=8)  # second factor: phone tail, or the PIN printed on the receipt
    about = peewee.CharField(max_length=64, default="")
    about_staff = peewee.CharField(max_length=40, null=True)  # never routed to, never allowed to reply
    window = peewee.CharField(max_length=8, null=True, index=True)
    route = peewee.CharField(max_length=12)  # window | supervisor
    client = peewee.CharField(max_length=64, default="", index=True)
    received_at = peewee.DateTimeField(index=True)
    received_on = peewee.DateField()
    due = peewee.DateField()
    reply = peewee.TextField(null=True)
    replied_by = peewee.CharField(max_length=40, null=True)
    replied_at = peewee.DateTimeField(null=True)
    replied_on = peewee.DateField(null=True)
    outcome = peewee.TextField(null=True)  # 投诉责任追究: what was done about a complaint


class SmsMessage(BaseModel):
    """An SMS to a villager (schema 5), queued with the state change it tells of; the key sends it once."""

    key = peewee.CharField(unique=True, max_length=80)  # request id + the hub log entry announcing the change
    request_id = peewee.CharField(max_length=40, index=True)
    phone = peewee.CharField(max_length=20)
    template = peewee.CharField(max_length=40)
    params = JSONField(default=dict)
    state = peewee.CharField(max_length=12, default="queued", index=True)  # queued|sending|sent|failed|unknown|skipped
    attempts = peewee.IntegerField(default=0)
    next_at = peewee.DateTimeField(index=True)
    last_error = peewee.TextField(null=True)
    provider_id = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DateTimeField()
    sent_at = peewee.DateTimeField(null=True)


class SmsOptOut(BaseModel):
    """A phone number that asked for no more SMS (退订), honoured before every send."""

    phone = peewee.CharField(unique=True, max_length=20)
    at = peewee.DateTimeField()
    by = peewee.CharField(max_length=64)


ALL_MODELS.extend([Rating, MailMessage, SmsMessage, SmsOptOut])


class Extension(BaseModel):
    """A request to extend a case's time limit (延期, 行政许可法 §42): asked by staff, decided by a supervisor."""

    request_id = peewee.CharField(max_length=40, index=True)
    days = peewee.IntegerField()
    reason = peewee.TextField()
    requested_by = peewee.CharField(max_length=64)
    requested_at = peewee.DateTimeField()
    status = peewee.CharField(max_length=12, default="pending", index=True)  # pending | approved | rejected
    decided_by = peewee.CharField(max_length=64, null=True)
    decided_at = peewee.DateTimeField(null=True)
    decision_note = peewee.TextField(default="")
    old_deadline = peewee.DateField(null=True)
    new_deadline = peewee.DateField(null=True)


class Contact(BaseModel):
    """首问负责制: a consultation (咨询) or a matter sent on (转办), who answered, when and what."""

    kind = peewee.CharField(max_length=12)  # consult | transfer
    request_id = peewee.CharField(max_length=40, null=True, index=True)
    person = peewee.CharField(max_length=64)  # who asked (a villager's name as given)
    topic = peewee.TextField()
    answer = peewee.TextField(default="")
    to_body = peewee.CharField(max_length=100, default="")  # where a 转办 went
    answered_by = peewee.CharField(max_length=64)
    at = peewee.DateTimeField(index=True)


ALL_MODELS.extend([Extension, Contact])


class CountyReferral(BaseModel):
    """报县级 (schema 8): a case the township examined and passed up, and the county's answer once recorded."""

    request_id = peewee.CharField(primary_key=True, max_length=40)
    passed_up_on = peewee.DateField()
    passed_up_by = peewee.CharField(max_length=64)
    answer = peewee.CharField(max_length=20, null=True)  # county_approved | county_denied, None while waiting
    doc_no = peewee.CharField(max_length=64, null=True)  # the county's document number (文号)
    doc_date = peewee.DateField(null=True)
    reason = peewee.TextField(default="")
    recorded_by = peewee.CharField(max_length=64, null=True)
    recorded_at = peewee.DateTimeField(null=True)
    # schema 11: at a county hub, the township's 初审 opinion that came up with the case (hub/county/)
    opinion = peewee.TextField(default="")


class Publicity(BaseModel):
    """公示 before approval (schema 8): its dates and the objections received, one per case."""

    request_id = peewee.CharField(primary_key=True, max_length=40)
    start_on = peewee.DateField()
    end_on = peewee.DateField()
    started_by = peewee.CharField(max_length=64)
    objections = JSONField(default=list)  # [{"at", "by", "text", "answer"}]
    ended_by = peewee.CharField(max_length=64, null=True)
    ended_at = peewee.DateTimeField(null=True)


ALL_MODELS.extend([CountyReferral, Publicity])


class TownshipFigures(BaseModel):
    """At a county hub (schema 13): one township's count of one item at one village on one day.

    Aggregates only, as the township sent them (township.figures); a resend of the day replaces them.
    """

    township = peewee.ForeignKeyField(Village, backref="figures")
    day = peewee.DateField()
    item_code = peewee.CharField(max_length=16)
    village = peewee.CharField(max_length=100)
    received = peewee.IntegerField(default=0)
    closed = peewee.IntegerField(default=0)
    on_time = peewee.IntegerField(default=0)
    overdue = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("township", "day", "item_code", "village"), True),)


class TownshipAlert(BaseModel):
    """At a county hub (schema 13): a township's overdue cases or forked village log, as it last said it that day."""

    township = peewee.ForeignKeyField(Village, backref="alerts")
    day = peewee.DateField()
    kind = peewee.CharField(max_length=8)  # overdue | fork
    village = peewee.CharField(max_length=100)
    count = peewee.IntegerField(default=0)
    receipt_codes = JSONField(default=list)
    received_at = peewee.DateTimeField()

    class Meta:
        indexes = ((("township", "day", "kind", "village"), True),)


ALL_MODELS.extend([TownshipFigures, TownshipAlert])
