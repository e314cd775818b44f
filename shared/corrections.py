"""Correcting one field of a captured request: which fields, their names, and the check.

The node (the clerk, before the hub's 受理) and the hub (window staff, until the case is closed)
both correct through `check`, so a value one side accepts is never refused by the other: the
corrected record must pass the very `validate_capture` a new request passes. The receipt code,
the item and the materials are not corrections (a new item is a new request; materials arrive
by 补正), so they are not among the fields.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from .catalogue import Catalogue
from .msgid import N_, joined
from .validation import FieldError, normalise_id_number, normalise_mobile, validate_capture

REASON_MAX = 200
VALUE_MAX = 500
# A field is named as the capture form names it: applicant.<key>, notes, or fields.<catalogue key>.
FIELD_PATTERN = r"^(applicant\.(name|id_number|phone|address|group)|notes|fields\.[A-Za-z0-9_]{1,40})$"
_FIELD_RE = re.compile(FIELD_PATTERN)

APPLICANT_LABELS = {
    "applicant.name": N_("申请人姓名"),
    "applicant.id_number": N_("身份证号码"),
    "applicant.phone": N_("手机号码"),
    "applicant.address": N_("住址"),
    "applicant.group": N_("村民小组"),
}


@dataclass(frozen=True)
class Correction:
    """A checked correction: the field, its name for people, the old and new value, and why."""

    field: str
    label: str
    old: str
    value: str
    reason: str
    record: dict[str, Any]  # the whole captured record with the new value in place


class CorrectionError(ValueError):
    """A correction that cannot be made, with a sentence for the person correcting."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def choices(catalogue: Catalogue, item_code: str) -> list[tuple[str, str]]:
    """The (field, label) pairs a request of this item can have corrected, in form order."""
    out = list(APPLICANT_LABELS.items())
    out += [(f"fields.{spec['key']}", spec["label"]) for spec in catalogue.fields(item_code)]
    out.append(("notes", N_("备注")))
    return out


def label(catalogue: Catalogue, item_code: str, field: str) -> str:
    """A field's name for people; the field itself when the catalogue no longer knows it."""
    return dict(choices(catalogue, item_code)).get(field, field)


def current_value(record: dict[str, Any], field: str) -> str:
    """The value a field has in a captured record, as text."""
    head, _, key = field.partition(".")
    if not key:
        return str(record.get(head) or "")
    return str((record.get(head) or {}).get(key) or "")


def with_value(record: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    """A copy of the captured record with one field set (the record itself is left as it was)."""
    corrected = copy.deepcopy(record)
    head, _, key = field.partition(".")
    if key:
        corrected[head] = {**(corrected.get(head) or {}), key: value}
    else:
        corrected[head] = value
    return corrected


def _normalised(field: str, value: str) -> str:
    value = value.strip()
    if field == "applicant.id_number":
        return normalise_id_number(value)
    if field == "applicant.phone":
        return normalise_mobile(value)
    return value


def check(catalogue: Catalogue, record: dict[str, Any], field: Any, value: Any, reason: Any) -> Correction:
    """The correction as it will be recorded, or CorrectionError saying what is wrong (nothing changes)."""
    if (
        not isinstance(field, str)
        or not _FIELD_RE.fullmatch(field)
        or field not in dict(choices(catalogue, str(record.get("item_code", ""))))
    ):
        raise CorrectionError("bad_field", N_("请选择要更正的项目"))
    if not isinstance(value, str) or len(value) > VALUE_MAX:
        raise CorrectionError("bad_value", N_("更正后的内容须是文字，不超过%(max)d字", max=VALUE_MAX))
    if not isinstance(reason, str) or not reason.strip():
        raise CorrectionError("reason_required", N_("请填写更正原因"))
    if len(reason.strip()) > REASON_MAX:
        raise CorrectionError("reason_too_long", N_("更正原因不能超过%(max)d字", max=REASON_MAX))
    value = _normalised(field, value)
    old = current_value(record, field)
    if value == old:
        raise CorrectionError("unchanged", N_("更正后的内容与原内容相同，无需更正"))
    corrected = with_value(record, field, value)
    errors = [e for e in validate_capture(catalogue, corrected) if e.field == field]
    if errors:
        raise CorrectionError(errors[0].code, _first(errors))
    return Correction(
        field, label(catalogue, str(record.get("item_code", "")), field), old, value, reason.strip(), corrected
    )


def _first(errors: list[FieldError]) -> str:
    return joined([e.message for e in errors])


def columns(field: str, value: str) -> dict[str, str]:
    """The searchable columns a corrected field also lives in (both apps keep name, ID and phone apart)."""
    return {
        "applicant.name": {"applicant_name": value},
        "applicant.id_number": {"id_number": value},
        "applicant.phone": {"phone": value},
    }.get(field, {})
