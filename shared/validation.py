"""Validation of captured requests: every problem comes back as a readable value.

The node runs these checks while the clerk types and the hub runs them again on
every synced event, so both sides refuse the same things with the same words.
`validate_capture` reports all problems at once, in the spirit of 一次告知制.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

import msgspec

from shared.catalogue import Catalogue
from shared.catalogue import CapturePlan
from shared.catalogue import number_bounds
from shared.msgid import N_, listed
from shared.papers import application
from shared.receipt_codes import format_code


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: a machine code and a sentence for the clerk."""

    field: str
    code: str
    message: str


_COMPACT = msgspec.json.Encoder()  # no enc_hook: a type JSON lacks raises, and is measured by json.dumps
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")  # \d would admit non-ASCII digits
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Lengths of the form-like fields, in characters. The node's forms and the hub's ingest both
# read them from here, so neither side accepts what the other would refuse.
NAME_MAX = 30
ADDRESS_MAX = 100
GROUP_MAX = 30
TEXT_FIELD_MAX = 200
NOTES_MAX = 500
FEEDBACK_COMMENT_MAX = 500
WITHDRAW_REASON_MAX = 200
CLERK_NAME_MAX = 64
# A whole captured request, and a whole feedback/withdrawal/supplement, as JSON text: far above
# anything the node's forms can produce, so extra keys cannot smuggle in megabytes either.
CAPTURE_MAX_CHARS = 8000
SUBMIT_CHOICES = ("submitted", "awaiting_materials", "held")

NUMBER_TEXT_MAX = 20  # characters of a number as typed: more is never a sane value


def id_check_digit(first17: str) -> str:
    """Return the GB 11643-1999 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("first17 must be 17 ASCII digits")
    return _check_of(first17)


def _check_of(digits: str) -> str:
    # The standard's weights are 2**(17 - i) mod 11 for digit i, and 13 ≡ 2 (mod 11): the weighted sum
    # is 2 × (the digits read in base 13), mod 11, which int() reads in C (5 × faster than the sum).
    return _ID_CHECK[2 * int(digits, 13) % 11]


def normalise_id_number(s: str) -> str:
    """Return the ID number stripped of surrounding blanks, with a trailing x upper-cased."""
    return s.strip().upper()


def validate_id_number(s: Any, field: str = "id_number", today: date | None = None) -> FieldError | None:
    """Check a resident ID number (length, digits, region, birth date, check digit); None if valid."""
    if _plain_id_number(s, today or date.today()):
        return None  # in its stored form and valid: one pass (a synced batch checks 1,000)
    if not isinstance(s, str) or not s.strip():
        return FieldError(field, "required", N_("请填写身份证号码"))
    n = normalise_id_number(s)
    if len(n) != 18:
        return FieldError(field, "id_length", N_("身份证号码应为18位，现为%(n)d位", n=len(n)))
    body, check = n[:17], n[17]
    # isdigit() alone would let full-width or other Unicode digits through.
    if not (body.isascii() and body.isdigit()) or check not in "0123456789X":
        return FieldError(field, "id_chars", N_("身份证号码前17位须为数字，最后一位为数字或X"))
    if body[:2] == "00":
        return FieldError(field, "id_region", N_("身份证号码前两位地区码不正确"))
    if not _born_by(n, today or date.today()):
        return FieldError(field, "id_birth_date", N_("身份证号码中的出生日期不正确"))
    if _check_of(body) != check:
        return FieldError(field, "id_check_digit", N_("身份证号码校验位不正确，请核对"))
    return None


def _born_by(n: str, today: date) -> bool:
    """The birth date in ID number n (17 ASCII digits first) is a real day from 1900 to today."""
    try:
        # Eight ASCII digits are read as YYYYMMDD (Python 3.11's basic format): the same date as
        # date(int(yyyy), int(mm), int(dd)), without building the dashed text.
        born = date.fromisoformat(n[6:14])
    except ValueError:
        return False
    return born.year >= 1900 and born <= today


def _plain_id_number(s: Any, today: date) -> bool:
    """True only when validate_id_number finds nothing, for an ID number in its stored form (no
    blanks, X upper-case); anything else answers False and is looked at in full."""
    if s.__class__ is not str or len(s) != 18 or not s.isascii():
        return False
    body = s[:17]
    # A check digit equal to the computed one is one of "0123456789X".
    return body.isdigit() and body[:2] != "00" and _born_by(s, today) and _check_of(body) == s[17]


def normalise_mobile(s: str) -> str:
    """Return the bare 11-digit form of a phone number typed with spaces, dashes or +86."""
    if len(s) == 11 and s.isascii() and s.isdigit():
        return s  # already bare (as stored and synced): NFKC and the rules below leave it as it is
    digits = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", s))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def _plain_mobile(s: Any) -> bool:
    """True only when validate_mobile finds nothing, for a number in its stored form (11 bare digits)."""
    # Such a text is its own normalise_mobile, and is not blank.
    return s.__class__ is str and _MOBILE_RE.fullmatch(s) is not None


def validate_mobile(s: Any, field: str = "phone") -> FieldError | None:
    """Check a mainland mobile number (11 digits starting 13–19); None if valid."""
    if _plain_mobile(s):
        return None
    if not isinstance(s, str) or not s.strip():
        return FieldError(field, "required", N_("请填写手机号码"))
    if not _MOBILE_RE.fullmatch(normalise_mobile(s)):
        return FieldError(field, "phone_format", N_("手机号码应为11位数字，以13至19开头"))
    return None


def has_control(text: str) -> bool:
    """True when text holds a control or format character (Unicode Cc, Cf: U+0000 among them)."""
    # Every Cc and Cf character is non-printable for str.isprintable (one C loop): only text that
    # has some non-printable character is looked at character by character.
    return not text.isprintable() and any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def _plain_text(value: Any, max_len: int) -> bool:
    # What _check_text accepts, without its steps: printable text has no control character, and
    # its stripped form is no longer. Blank text is not plain (required or not, it goes the long way).
    return value.__class__ is str and len(value) <= max_len and value.isprintable() and value.strip() != ""


def _check_text(value: Any, field: str, label: str, max_len: int, required: bool = True) -> FieldError | None:
    if _plain_text(value, max_len):
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        return FieldError(field, "required", N_("请填写%(label)s", label=label)) if required else None
    if not isinstance(value, str):
        return FieldError(field, "type", N_("%(label)s必须是文字", label=label))
    text = value.strip()
    if len(text) > max_len:
        return FieldError(field, "too_long", N_("%(label)s不能超过%(max_len)s个字", label=label, max_len=max_len))
    if has_control(text):
        return FieldError(field, "control_chars", N_("%(label)s含有不可见的控制字符，请重新输入", label=label))
    return None


def _check_length(value: Any, field: str, label: str, max_len: int) -> FieldError | None:
    # Free text the clerk may leave empty: only its type and length are rules.
    if value is None:
        return None
    if not isinstance(value, str):
        return FieldError(field, "type", N_("%(label)s必须是文字", label=label))
    if len(value) > max_len:
        return FieldError(field, "too_long", N_("%(label)s不能超过%(max_len)s个字", label=label, max_len=max_len))
    return None


def _too_big(data: Any, max_chars: int, encoded_size: int | None = None) -> FieldError | None:
    if encoded_size is not None and encoded_size * 4 <= max_chars:
        return None  # the caller's own compact encoding of data, measured as below
    try:
        # The size below is never more than 4 × this many UTF-8 bytes (same string escapes; a separator
        # is 1 character here and 2 there; only str() of bytes grows more than twice): most captures
        # are far inside the bound and skip the slower measurement (the hub validates every capture).
        if len(_COMPACT.encode(data)) * 4 <= max_chars:
            return None
    except (TypeError, ValueError, OverflowError):
        pass  # something only json.dumps(default=str) writes: measure that way
    size = len(json.dumps(data, ensure_ascii=False, default=str))
    if size > max_chars:
        return FieldError("", "too_long", N_("记录内容过长（%(size)d字，上限%(max)d字）", size=size, max=max_chars))
    return None


def _is_iso_date(text: str) -> bool:
    # Python 3.11's fromisoformat also takes 20250131 and week dates; we want YYYY-MM-DD only.
    if not _DATE_RE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_extra_field(spec: dict[str, Any], value: Any) -> FieldError | None:
    kind = spec["type"]
    if kind == "text" and _plain_text(value, TEXT_FIELD_MAX):
        return None
    field = f"fields.{spec['key']}"
    label = spec["label"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return FieldError(field, "required", N_("请填写%(label)s", label=label)) if spec["required"] else None
    if kind == "number":
        return check_number(spec, value)
    if kind == "date":
        if not _is_iso_date(str(value).strip()):
            return FieldError(field, "date", N_("%(label)s应为有效日期，格式如 2025-01-31", label=label))
        return None
    return _check_text(value, field, label, TEXT_FIELD_MAX)


def check_number(spec: dict[str, Any], value: Any) -> FieldError | None:
    """A filled-in number field: a plain decimal within its field's bounds, with no more places than allowed."""
    field, label = f"fields.{spec['key']}", spec["label"]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return FieldError(field, "number", N_("%(label)s必须是数字", label=label))
    text = str(value).strip()
    if len(text) > NUMBER_TEXT_MAX:
        return FieldError(field, "number_range", N_("%(label)s数值过大，请核对", label=label))
    try:
        num = Decimal(text)
    except InvalidOperation:
        return FieldError(field, "number", N_("%(label)s必须是数字", label=label))
    if not num.is_finite():
        return FieldError(field, "number", N_("%(label)s必须是数字", label=label))
    low, high, places = number_bounds(spec)
    if num < low:
        return FieldError(field, "number", N_("%(label)s必须是不小于%(low)s的数字", label=label, low=low))
    if num > high:
        return FieldError(field, "number_range", N_("%(label)s不能大于%(high)s，请核对", label=label, high=high))
    exponent = num.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return FieldError(
            field,
            "number_places",
            N_("%(label)s应为整数", label=label)
            if places == 0
            else N_("%(label)s最多保留%(places)d位小数", label=label, places=places),
        )
    return None


# The hub says this sentence once per returning villager of a synced batch (两头受理), for the few
# items of the catalogue: each item's marked application made once. A Said is never changed once made.
_application = functools.lru_cache(maxsize=256)(application)


def duplicate_application(earlier_code: str, item_name: str) -> FieldError:
    """两头受理: the same ID number already has an open request for this item (village point or counter)."""
    return FieldError("applicant.id_number", "duplicate_application", duplicate_sentence(earlier_code, item_name))


def duplicate_sentence(earlier_code: str, item_name: str) -> str:
    """duplicate_application's sentence alone (the hub notes it on a returning villager's capture)."""
    return N_(
        "该身份证号码已有一件%(application)s正在办理（回执码 %(code)s），"
        "同一事项不能重复申请；请先查询原申请的办理进度",
        application=_application(item_name),
        code=format_code(earlier_code),
    )


def _code_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _plain_number(text: str, bounds: tuple[Decimal | int, Decimal | int, int]) -> bool:
    """What check_number accepts, for digits with an optional fraction (anything else goes the long way)."""
    low, high, places = bounds
    if len(text) > NUMBER_TEXT_MAX:
        return False
    if text.isdigit() and text.isascii():
        # A whole number (as most are typed): int() reads it exactly as Decimal() does, faster, and
        # it has no places to count.
        return places >= 0 and low <= int(text) <= high
    if not _PLAIN_NUMBER.fullmatch(text):
        return False
    # The fraction's digits without trailing zeros are the places Decimal.normalize() leaves.
    return low <= Decimal(text) <= high and len(text.partition(".")[2].rstrip("0")) <= places


def _plain_fields(plan: CapturePlan, fields: dict[str, Any]) -> bool:
    """True when _check_extra_field finds nothing wrong with any of the item's fields; False also when unsure.

    One loop with each kind's test written out: the hub runs it for every synced capture.
    """
    for key, kind, required, bounds in plan.fields:
        value = fields.get(key)
        if value.__class__ is str:
            if not value.strip():
                if required:
                    return False
            elif kind == "number":
                if not _plain_number(value, bounds):
                    return False
            elif kind == "date":
                if not _is_iso_date(value):
                    return False
            elif len(value) > TEXT_FIELD_MAX or not value.isprintable():  # text, and a kind judged as text
                return False
        elif value is None:
            if required:
                return False
        # check_number reads a JSON integer as its text; any other type goes the long way.
        elif not (kind == "number" and value.__class__ is int and _plain_number(str(value), bounds)):
            return False
    return True


def _plain_codes(value: Any) -> bool:
    """A list _code_list reads as itself (or None, read as empty); False also when unsure."""
    if value is None:
        return True
    if value.__class__ is not list:
        return False
    try:
        "".join(value)  # raises TypeError unless every code is a str, as _code_list asks
    except TypeError:
        return False
    return True


def _plainly_valid(catalogue: Catalogue, data: dict[str, Any], today: date | None) -> bool:
    """True only when _every_error would find nothing: a capture as the forms make it passes here
    without building the detailed errors; anything unusual answers False and is looked at in full."""
    if data.__class__ is not dict:
        return False
    item_code = data.get("item_code")
    plan = catalogue.capture_plan(item_code) if item_code.__class__ is str else None
    applicant = data.get("applicant")
    if plan is None or applicant.__class__ is not dict:
        return False
    group, id_number, phone = applicant.get("group"), applicant.get("id_number"), applicant.get("phone")
    today = today or date.today()
    if not (
        _plain_text(applicant.get("name"), NAME_MAX)
        and validate_id_number(id_number, "applicant.id_number", today) is None
        and validate_mobile(phone, "applicant.phone") is None
        and _plain_text(applicant.get("address"), ADDRESS_MAX)
        and (
            _plain_text(group, GROUP_MAX)
            or _check_text(group, "applicant.group", N_("村民小组"), GROUP_MAX, required=False) is None
        )
    ):
        return False
    fields = data.get("fields")
    if fields is None:
        fields = {}
    elif fields.__class__ is not dict:
        return False
    if not _plain_fields(plan, fields):
        return False
    notes = data.get("notes")
    if notes is not None and (notes.__class__ is not str or len(notes) > NOTES_MAX):
        return False
    submit = data.get("submit")
    if submit.__class__ is not str or submit not in SUBMIT_CHOICES:
        return False
    materials = data.get("materials")
    if materials is None:
        return not (submit == "submitted" and plan.required)
    if materials.__class__ is not dict:
        return False
    brought, missing = materials.get("brought"), materials.get("missing")
    if not (_plain_codes(brought) and _plain_codes(missing)):
        return False
    brought, missing = brought or (), missing or ()
    return (
        plan.materials.issuperset(brought)
        and plan.materials.issuperset(missing)
        and (not missing or set(missing).isdisjoint(brought))
        and (submit != "submitted" or plan.required.issubset(brought))
    )


def validate_capture(
    catalogue: Catalogue, data: Any, today: date | None = None, *, encoded_size: int | None = None
) -> list[FieldError]:
    """Return every problem with a captured request at once; an empty list means it may be saved.

    `encoded_size`: the length of data as compact UTF-8 JSON (msgspec's, any key order), when the
    caller has encoded it anyway (the hub stores it), so it is not encoded again to be measured.
    """
    if not isinstance(data, dict):
        return [FieldError("", "format", N_("申请数据格式错误"))]
    whole = _too_big(data, CAPTURE_MAX_CHARS, encoded_size)
    if whole is not None:
        return [whole]
    if _plainly_valid(catalogue, data, today):
        return []
    return _every_error(catalogue, data, today)


def _every_error(catalogue: Catalogue, data: dict[str, Any], today: date | None) -> list[FieldError]:
    errors: list[FieldError] = []

    item_code = data.get("item_code")
    item = catalogue.item(item_code) if isinstance(item_code, str) else None
    if not isinstance(item_code, str) or not item_code.strip():
        errors.append(FieldError("item_code", "required", N_("请选择办理事项")))
    elif item is None:
        errors.append(FieldError("item_code", "unknown_item", N_("办理事项 %(code)s 不存在", code=item_code)))
    elif not item["active"]:
        errors.append(FieldError("item_code", "inactive_item", N_("办理事项“%(name)s”已停用", name=item["name"])))
        item = None

    applicant = data.get("applicant")
    if not isinstance(applicant, dict):
        applicant = {}
    checks = [
        _check_text(applicant.get("name"), "applicant.name", N_("申请人姓名"), NAME_MAX),
        validate_id_number(applicant.get("id_number"), "applicant.id_number", today),
        validate_mobile(applicant.get("phone"), "applicant.phone"),
        _check_text(applicant.get("address"), "applicant.address", N_("住址"), ADDRESS_MAX),
        _check_text(applicant.get("group"), "applicant.group", N_("村民小组"), GROUP_MAX, required=False),
    ]
    errors.extend(e for e in checks if e is not None)

    fields = data.get("fields")
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        errors.append(FieldError("fields", "format", N_("事项填报内容格式错误")))
        fields = {}
    # Keys the catalogue does not know are ignored: a node may still hold an older version.
    if item is not None:
        for spec in item["fields"]:
            err = _check_extra_field(spec, fields.get(spec["key"]))
            if err is not None:
                errors.append(err)

    notes = _check_length(data.get("notes"), "notes", N_("备注"), NOTES_MAX)
    if notes is not None:
        errors.append(notes)

    submit = data.get("submit")
    if submit not in SUBMIT_CHOICES:
        errors.append(FieldError("submit", "submit_choice", N_("请选择提交、待补材料或暂存")))

    materials = data.get("materials")
    if not isinstance(materials, dict):
        materials = {}
    brought = _code_list(materials.get("brought"))
    missing = _code_list(materials.get("missing"))
    if brought is None or missing is None:
        errors.append(FieldError("materials", "format", N_("申请材料清单格式错误")))
    elif item is not None:
        known = catalogue.material_codes(item["code"])
        unknown = sorted({c for c in brought + missing if c not in known})
        if unknown:
            errors.append(
                FieldError(
                    "materials",
                    "unknown_material",
                    N_("材料 %(codes)s 不属于事项“%(name)s”", codes=listed(unknown), name=item["name"]),
                )
            )
        both = set(brought) & set(missing)
        if both:
            names = listed(catalogue.material_names(item["code"], both))
            errors.append(
                FieldError("materials", "material_conflict", N_("材料不能同时标记为已收和缺少：%(names)s", names=names))
            )
        lacking = catalogue.missing_materials(item["code"], brought)
        if lacking and submit == "submitted":
            names = listed(catalogue.material_names(item["code"], lacking))
            errors.append(
                FieldError(
                    "materials",
                    "materials_missing",
                    N_("还缺必需材料：%(names)s。请补齐后提交，或选择“待补材料”并打印一次性告知单", names=names),
                )
            )
    return errors


def mask_name(name: str) -> str:
    """Return the name with all but the first character hidden, e.g. 张三 -> 张*."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def _mask_middle(text: str, head: int, tail: int) -> str:
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[-tail:]


def mask_phone(phone: str) -> str:
    """Return the phone number with only the first 3 and last 4 digits visible, e.g. 138****5678."""
    return _mask_middle(normalise_mobile(phone), 3, 4)
