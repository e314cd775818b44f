"""The one rule both sides correct a captured field by (shared/corrections.py)."""

from __future__ import annotations

import pytest

from shared.catalogue import Catalogue
from shared.corrections import CorrectionError, check, choices
from tests.factories import capture


@pytest.fixture
def record() -> dict:
    data = capture("FP-01", name="张山")
    data["receipt_code"] = "22ABCDEFG"
    return data


def test_a_good_correction_keeps_the_rest_and_the_receipt_code(record) -> None:
    fix = check(Catalogue.default(), record, "applicant.name", " 张三 ", "录入错字")
    assert (fix.field, fix.label, fix.old, fix.value, fix.reason) == (
        "applicant.name",
        "申请人姓名",
        "张山",
        "张三",
        "录入错字",
    )
    assert fix.record["applicant"]["name"] == "张三"
    assert fix.record["receipt_code"] == "22ABCDEFG"
    assert record["applicant"]["name"] == "张山"  # the record given is not changed


def test_normalised_like_a_capture(record) -> None:
    fix = check(Catalogue.default(), record, "applicant.phone", "+86 139 0013 9000", "换号")
    assert fix.value == "13900139000"


def test_item_fields_and_notes_are_correctable_with_the_catalogue_label(record) -> None:
    cat = Catalogue.default()
    offered = dict(choices(cat, "FP-01"))
    spec = cat.fields("FP-01")[0]
    assert offered[f"fields.{spec['key']}"] == spec["label"]
    assert offered["notes"] == "备注"
    assert "receipt_code" not in offered
    assert "item_code" not in offered


@pytest.mark.parametrize(
    "field,value,reason,code",
    [
        ("receipt_code", "22XXXXXXX", "改号", "bad_field"),
        ("item_code", "DB-01", "换事项", "bad_field"),
        ("applicant.name", "张三", " ", "reason_required"),
        ("applicant.name", "张三", "因" * 201, "reason_too_long"),
        ("applicant.name", "张山", "录错", "unchanged"),
        ("applicant.id_number", "110101199001011234", "录错", "id_check_digit"),
        ("applicant.phone", "12345", "录错", "phone_format"),
        ("applicant.name", "", "录错", "required"),
        ("applicant.name", 5, "录错", "bad_value"),
    ],
)
def test_bad_corrections_are_refused_in_chinese(record, field, value, reason, code) -> None:
    with pytest.raises(CorrectionError) as err:
        check(Catalogue.default(), record, field, value, reason)
    assert err.value.code == code
    assert err.value.message
    assert err.value.message.isascii() is False


@pytest.mark.parametrize(
    "data,field",
    [
        ({"field": "applicant.name", "value": "张三", "reason": ""}, "reason"),
        ({"field": "receipt_code", "value": "x", "reason": "r"}, "field"),
        ({"field": "applicant.name", "value": "张" * 501, "reason": "r"}, "value"),
        ({"field": "applicant.name", "value": "张三", "reason": "r", "state": "approved"}, "state"),
        ({"field": "applicant.name", "value": 3, "reason": "r"}, "value"),
    ],
)
def test_the_wire_declaration_bounds_every_key(data, field) -> None:
    from shared import messages

    with pytest.raises(messages.MessageError) as err:
        messages.convert(data, messages.CorrectedData)
    assert err.value.field == field
