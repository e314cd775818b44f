"""The one bulk-row helper (shared/bulk_rows): rows of one batch that set different fields."""

from __future__ import annotations

from datetime import date
from typing import Any

import peewee

from shared.bulk_rows import aligned, existing, insert_rows


def test_rows_setting_different_fields_get_the_defaults_of_those_they_leave_out() -> None:
    db = peewee.SqliteDatabase(":memory:")

    class Case(peewee.Model):
        code = peewee.TextField(primary_key=True)
        asks = peewee.IntegerField(default=0)
        asked_on = peewee.DateField(null=True)
        tags = peewee.TextField(default=lambda: "none")

        class Meta:
            database = db

    db.create_tables([Case])
    rows: list[dict[str, Any]] = [{"code": "A", "asks": 1, "asked_on": date(2026, 11, 30)}, {"code": "B"}]
    names, values = aligned(Case, rows)
    assert names == ["code", "asks", "asked_on", "tags"]  # what any row sets, then what has a default
    assert values == [("A", 1, date(2026, 11, 30), "none"), ("B", 0, None, "none")]
    insert_rows(db.cursor(), Case, names, values)
    stored = {c.code: (c.asks, c.asked_on, c.tags) for c in Case.select()}
    assert stored == {"A": (1, date(2026, 11, 30), "none"), "B": (0, None, "none")}
    assert sorted(existing(Case.code, ["B", "C", "B", None])) == ["B"]
