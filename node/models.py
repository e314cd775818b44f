"""The node's tables: its append-only outbox of events, signed batches, requests and the hub's updates."""

from __future__ import annotations

import peewee

from .db import BaseModel, JSONField


class Meta(BaseModel):
    """Small facts about this node: identity, pinned hub key, chain position, cursor."""

    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()


class Request(BaseModel):
    """A villager's request as the village sees it: what was captured plus the hub's latest status."""

    request_id = peewee.CharField(primary_key=True, max_length=40)
    receipt_code = peewee.CharField(unique=True, max_length=12)
    item_code = peewee.CharField(max_length=16, index=True)
    kind = peewee.CharField(max_length=4)
    applicant_name = peewee.CharField(max_length=64, index=True)
    id_number = peewee.CharField(max_length=18)
    id_tail = peewee.CharField(max_length=4, index=True)
    phone = peewee.CharField(max_length=20, index=True)  # the clerk searches by phone number
    address = peewee.CharField(max_length=200)
    data = JSONField()
    materials_brought = JSONField(default=list)
    materials_missing = JSONField(default=list)
    state = peewee.CharField(max_length=20, index=True)
    window = peewee.CharField(max_length=8, null=True)
    window_name = peewee.CharField(max_length=40, null=True)
    deadline = peewee.CharField(max_length=10, null=True)
    hub_missing = JSONField(default=list)
    hub_missing_names = JSONField(default=list)
    reason = peewee.TextField(null=True)
    legal_basis = peewee.TextField(null=True)
    note = peewee.TextField(null=True)
    clerk = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(index=True)
    updated_at = peewee.DateTimeField()
    status_at = peewee.CharField(max_length=40, null=True)
    needs_attention = peewee.BooleanField(default=False, index=True)
    purged = peewee.BooleanField(default=False)

    class Meta:
        # Schema 6: a capture asks whether this person already has an open request for this item
        # (两头受理, capture.open_request_for); by item alone that read a tenth of the history.
        indexes = ((("id_number", "item_code"), False),)


class Batch(BaseModel):
    """A signed batch exactly as sent; re-sent byte for byte until the hub answers."""

    first_seq = peewee.BigIntegerField(unique=True)
    last_seq = peewee.BigIntegerField()
    hash = peewee.CharField(max_length=64)
    prev_hash = peewee.CharField(max_length=64)
    envelope = peewee.BlobField()
    state = peewee.CharField(max_length=12, default="pending", index=True)  # pending | acked | drafting (outbox.draft)
    created_at = peewee.DateTimeField()
    attempts = peewee.IntegerField(default=0)
    last_attempt_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(null=True)


class Event(BaseModel):
    """One entry of the node's append-only log; seq is given when it is first signed into a batch."""

    event_id = peewee.CharField(unique=True, max_length=40)
    seq = peewee.BigIntegerField(null=True, unique=True)
    batch = peewee.ForeignKeyField(Batch, null=True, backref="events", on_delete="SET NULL")
    type = peewee.CharField(max_length=40)
    request_id = peewee.CharField(max_length=40, index=True)
    clerk = peewee.CharField(max_length=64)
    at = peewee.CharField(max_length=40)
    data = JSONField()
    result = peewee.CharField(max_length=16, null=True)  # None until acked; ok | refused
    result_message = peewee.TextField(null=True)
    quarantined = peewee.BooleanField(default=False)


# The queued events (not yet acknowledged), counted for every batch and every poll: the count
# reads this index of the queue, not every event the node ever logged (schema 5).
Event.add_index(Event.index(Event.quarantined, where=Event.result.is_null(), name="event_queued"))


class HubUpdate(BaseModel):
    """A status update from the hub's log for this village, applied once by its cseq."""

    cseq = peewee.BigIntegerField(primary_key=True)
    request_id = peewee.CharField(max_length=40, index=True)
    type = peewee.CharField(max_length=40)
    body = JSONField()
    applied_at = peewee.DateTimeField()


class Attachment(BaseModel):
    """A scan or photo of a document, stored by content hash; uploaded once the hub holds every byte."""

    sha256 = peewee.CharField(max_length=64)
    request_id = peewee.CharField(max_length=40, index=True)
    event_id = peewee.CharField(max_length=40, unique=True)
    size = peewee.IntegerField()
    name = peewee.CharField(max_length=200)
    material_code = peewee.CharField(max_length=40, null=True)
    created_at = peewee.DateTimeField()
    uploaded_at = peewee.DateTimeField(null=True, index=True)

    class Meta:
        indexes = ((("sha256", "request_id"), True),)


class BundleExport(BaseModel):
    """A USB bundle this node wrote: the messages in it, so the hub's answers can be matched and applied once."""

    bundle_id = peewee.CharField(primary_key=True, max_length=40)
    messages = JSONField()  # [{"kind", "hash", "raw" (base64, for hello/poll)}]
    attachments = JSONField(default=list)
    created_at = peewee.DateTimeField()
    imported_at = peewee.DateTimeField(null=True)


class Clerk(BaseModel):
    """A clerk who may log in to this node; failed logins are counted here so a lockout survives restarts."""

    username = peewee.CharField(unique=True, max_length=32)
    name = peewee.CharField(max_length=64)
    password_hash = peewee.CharField(max_length=256)
    active = peewee.BooleanField(default=True)
    failed_logins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField()
    last_login_at = peewee.DateTimeField(null=True)


class StagedUpdate(BaseModel):
    """An entry of the hub's log fetched anew after the hub lost part of it; swapped in once complete."""

    cseq = peewee.BigIntegerField(primary_key=True)
    request_id = peewee.CharField(max_length=40)
    type = peewee.CharField(max_length=40)
    body = JSONField()


class ForgottenUpdate(BaseModel):
    """A hub decision this node had received that the hub no longer holds (restored from an older backup)."""

    request_id = peewee.CharField(max_length=40, index=True)
    old_cseq = peewee.BigIntegerField()
    type = peewee.CharField(max_length=40)
    body = JSONField()
    epoch = peewee.CharField(max_length=40)
    noticed_at = peewee.DateTimeField(index=True)


ALL_MODELS = [Meta, Request, Batch, Event, HubUpdate, Clerk, Attachment, BundleExport, StagedUpdate, ForgottenUpdate]
