"""The batch writer's row layouts (hub/ingest.py) stay those of the models they are written to."""

from __future__ import annotations

from hub import ingest
from hub.models import Case, HubEvent, NodeEvent


def test_event_rows_queued_as_tuples_name_every_column_and_no_default_is_left_out() -> None:
    # A field added with a default would be left out of these INSERTs, not given its default.
    for model, columns in ((HubEvent, ingest.HUB_EVENT_COLUMNS), (NodeEvent, ingest.NODE_EVENT_COLUMNS)):
        assert not model._meta.defaults, model
        assert set(columns) == set(model._meta.fields) - {"id"}, model
        assert len(set(columns)) == len(columns)


def test_every_new_case_row_has_every_column_in_one_order() -> None:
    # What lets a batch's case rows go to bulk_rows.aligned as one template, complete or waiting for materials.
    a, b = ingest.NewCase({"request_id": "a"}), ingest.NewCase({"request_id": "b", "deadline": None})
    assert list(vars(a)) == list(vars(b)) == list(Case._meta.fields)
    assert vars(a)["materials_brought"] is not vars(b)["materials_brought"]  # a default a call makes, made per case
