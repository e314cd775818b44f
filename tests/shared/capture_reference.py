"""The per-capture checks as they stood before their fast paths (#13), kept only as the reference
the equivalence tests compare the shipped functions against. The apps never import this.

Copied unchanged from shared/validation.py, shared/catalogue.py, shared/intake.py and
shared/receipt_codes.py of the commit before; helpers those commits left alone are imported.
"""

# ruff: noqa
from __future__ import annotations

import operator
import unicodedata
from datetime import date
from typing import Any

from shared.catalogue import Catalogue
from shared.msgid import N_, listed
from shared.receipt_codes import ALPHABET, BASE, CODE_LENS, RANDOM_LEN, _VALUE, normalise
from shared.validation import (
    ADDRESS_MAX,
    CAPTURE_MAX_CHARS,
    GROUP_MAX,
    NAME_MAX,
    NOTES_MAX,
    SUBMIT_CHOICES,
    TEXT_FIELD_MAX,
    FieldError,
    _check_length,
    _code_list,
    _is_iso_date,
    _too_big,
    check_number,
    normalise_id_number,
    normalise_mobile,
    validate_mobile,
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """Return the GB 11643-1999 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("first17 must be 17 ASCII digits")
    total = sum(map(operator.mul, map(int, first17), _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def validate_id_number(s: Any, field: str = "id_number", today: date | None = None) -> FieldError | None:
    """Check a resident ID number (length, digits, region, birth date, check digit); None if valid."""
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
    today = today or date.today()
    try:
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > today:
        return FieldError(field, "id_birth_date", N_("身份证号码中的出生日期不正确"))
    if id_check_digit(body) != check:
        return FieldError(field, "id_check_digit", N_("身份证号码校验位不正确，请核对"))
    return None


def _has_control(text: str) -> bool:
    # Every Cc and Cf character is non-printable for str.isprintable (one C loop): only text that
    # has some non-printable character is looked at character by character.
    return not text.isprintable() and any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def _check_text(value: Any, field: str, label: str, max_len: int, required: bool = True) -> FieldError | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return FieldError(field, "required", N_("请填写%(label)s", label=label)) if required else None
    if not isinstance(value, str):
        return FieldError(field, "type", N_("%(label)s必须是文字", label=label))
    text = value.strip()
    if len(text) > max_len:
        return FieldError(field, "too_long", N_("%(label)s不能超过%(max_len)s个字", label=label, max_len=max_len))
    if _has_control(text):
        return FieldError(field, "control_chars", N_("%(label)s含有不可见的控制字符，请重新输入", label=label))
    return None


def _check_extra_field(spec: dict[str, Any], value: Any) -> FieldError | None:
    kind = spec["type"]
    if kind == "text" and value.__class__ is str and len(value) <= TEXT_FIELD_MAX and value.isprintable():
        # What _check_text accepts, without its steps: printable text has no control character,
        # and its stripped form is no longer. Blank text goes the long way (required or not).
        if value.strip():
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


def validate_capture(catalogue: Catalogue, data: Any, today: date | None = None) -> list[FieldError]:
    """Return every problem with a captured request at once; an empty list means it may be saved."""
    if not isinstance(data, dict):
        return [FieldError("", "format", N_("申请数据格式错误"))]
    whole = _too_big(data, CAPTURE_MAX_CHARS)
    if whole is not None:
        return [whole]
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


def missing_materials(catalogue: Catalogue, item_code: str, brought_codes: Any) -> list[str]:
    """Catalogue.missing_materials as it was."""
    brought = set(brought_codes)
    return [c for c in catalogue.required_materials(item_code) if c not in brought]


def normalise_capture(data: dict[str, Any]) -> dict[str, Any]:
    """shared.intake.normalise_capture as it was."""
    out = dict(data)
    applicant = dict(out.get("applicant") or {}) if isinstance(out.get("applicant"), dict) else {}
    if isinstance(applicant.get("id_number"), str):
        applicant["id_number"] = normalise_id_number(applicant["id_number"])
    if isinstance(applicant.get("phone"), str):
        applicant["phone"] = normalise_mobile(applicant["phone"])
    out["applicant"] = applicant
    return out


def check_char(body: str) -> str:
    """shared.receipt_codes.check_char as it was."""
    n = len(body) + 1
    if n >= BASE:
        raise ValueError("body too long for a mod-31 position check")
    try:
        total = sum((i + 1) * _VALUE[c] for i, c in enumerate(body))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the receipt alphabet") from None
    c = (-total * pow(n, -1, BASE)) % BASE
    return ALPHABET[c]


def _is_valid_normalised(code: str) -> bool:
    if len(code) not in CODE_LENS or not frozenset(ALPHABET).issuperset(code):
        return False
    return check_char(code[:-1]) == code[-1]


def issued_by(code: str, prefix: str) -> bool:
    """shared.receipt_codes.issued_by as it was."""
    c = normalise(code)
    return _is_valid_normalised(c) and c[: len(c) - RANDOM_LEN - 1] == normalise(prefix)
