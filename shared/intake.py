"""Taking in a request from the catalogue form: one reading of the form for the village point and the counter.

The village node's capture page and the hub's counter (窗口收件) post the same form; both turn it
into the capture dict here and clean it with ``normalise_capture`` before ``validate_capture``
(shared/validation.py), so a request is read, cleaned and judged the same way wherever it is taken.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.catalogue import Catalogue
from shared.materials import owed
from shared.validation import normalise_id_number, normalise_mobile

APPLICANT_KEYS = ("name", "id_number", "phone", "address", "group")


class FormLike(Protocol):
    """What a posted form offers (werkzeug's MultiDict, or a test's stand-in)."""

    def get(self, key: str, default: str) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...


def form_to_capture(cat: Catalogue, item_code: str, form: FormLike, hold: bool = False) -> dict[str, Any]:
    """The capture dict from the posted catalogue form; `hold` keeps it at the village point (暂存)."""
    item = cat.item(item_code)
    brought = [c for c in form.getlist("brought") if c]
    fields = {
        spec["key"]: str(form.get(f"fields.{spec['key']}", "")).strip() for spec in (item or {}).get("fields", [])
    }
    # Conditional materials ("有重病、残疾的提供") count as owed only when ticked as applying.
    conditional = {m["code"] for m in (item or {}).get("materials", []) if not m["required"]}
    applicable = [c for c in form.getlist("applicable") if c in conditional]
    lacking = owed(cat.required_materials(item_code), applicable, brought) if item else []
    # What is missing decides how it is sent: complete, or awaiting materials with a one-time notice.
    submit = "held" if hold else ("awaiting_materials" if lacking else "submitted")
    return {
        "item_code": item_code,
        "applicant": {k: form.get(f"applicant.{k}", "") for k in APPLICANT_KEYS},
        "fields": {k: v for k, v in fields.items() if v != ""},
        "materials": {"brought": brought, "missing": lacking},
        "submit": submit,
        "notes": form.get("notes", ""),
        "sms": form.get("sms", "") == "on",
    }


def normalise_capture(data: dict[str, Any]) -> dict[str, Any]:
    """A copy with the ID number and phone in their stored forms (trailing x upper-cased, bare 11 digits)."""
    out = dict(data)
    given = out.get("applicant")
    applicant = dict(given or {}) if isinstance(given, dict) else {}
    id_number, phone = applicant.get("id_number"), applicant.get("phone")
    if isinstance(id_number, str):
        applicant["id_number"] = normalise_id_number(id_number)
    if isinstance(phone, str):
        applicant["phone"] = normalise_mobile(phone)
    out["applicant"] = applicant
    return out


def cleaned_capture(data: dict[str, Any]) -> dict[str, Any]:
    """normalise_capture(data), or data itself when that copy would equal it (no copy made).

    The hub cleans every synced capture, and a node's are already clean: the copy is made only
    when cleaning changes something (an applicant that is not a dict, an ID number or a phone
    number not in its stored form).
    """
    applicant = data.get("applicant")
    if isinstance(applicant, dict):
        id_number, phone = applicant.get("id_number"), applicant.get("phone")
        if (not isinstance(id_number, str) or normalise_id_number(id_number) == id_number) and (
            not isinstance(phone, str) or normalise_mobile(phone) == phone
        ):
            return data
    return normalise_capture(data)
