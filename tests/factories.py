"""Valid and invalid captured requests, built from the catalogue so they stay in step with it."""

from __future__ import annotations

import random
from typing import Any

from shared.catalogue import Catalogue
from shared.validation import id_check_digit

FIELD_VALUES = {"number": "3", "date": "2026-05-01", "text": "东至张家，西至李家"}


def item_of(catalogue: Catalogue, code: str) -> dict[str, Any]:
    """An item the test knows the catalogue holds (a missing one fails here, by its code)."""
    item = catalogue.item(code)
    assert item is not None, code
    return item


def id_number(rng: random.Random | None = None) -> str:
    """A valid GB 11643 ID number."""
    rng = rng or random.Random()
    body = f"4301{rng.randint(10, 99):02d}19{rng.randint(50, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}{rng.randint(100, 999)}"
    return body + id_check_digit(body)


def capture(
    item_code: str = "JF-01",
    *,
    missing: list[str] | None = None,
    name: str = "张三",
    rng: random.Random | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """A capture form for an item with every required field, optionally leaving materials missing."""
    cat = catalogue or Catalogue.default()
    item = cat.item(item_code)
    assert item is not None
    missing = missing or []
    brought = [m["code"] for m in item["materials"] if m["required"] and m["code"] not in missing]
    return {
        "item_code": item_code,
        "applicant": {
            "name": name,
            "id_number": id_number(rng),
            "phone": "13800138000",
            "address": "桃源村三组12号",
            "group": "三组",
        },
        "fields": {f["key"]: FIELD_VALUES[f["type"]] for f in item["fields"]},
        "materials": {"brought": brought, "missing": missing},
        "submit": "awaiting_materials" if missing else "submitted",
        "notes": "村民申请，材料齐全" if not missing else "缺少材料，已一次性告知",
    }
