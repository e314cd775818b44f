"""Tests for captured-field validation and masking."""

from datetime import date
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from shared.catalogue import Catalogue
from shared.validation import FieldError
from shared.validation import id_check_digit
from shared.validation import mask_name
from shared.validation import mask_phone
from shared.validation import normalise_id_number
from shared.validation import normalise_mobile
from shared.validation import validate_capture
from shared.validation import validate_id_number
from shared.validation import validate_mobile

TODAY = date(2025, 6, 1)


def code_of(error: FieldError | None) -> str | None:
    """The error's code, or None when the value passed."""
    return None if error is None else error.code


def make_id(region: str, born: date, seq: str = "123") -> str:
    body = f"{region}{born:%Y%m%d}{seq}"
    return body + id_check_digit(body)


# --- ID numbers -----------------------------------------------------------


def test_standard_example_ids():
    # The worked examples printed in GB 11643-1999.
    assert id_check_digit("11010519491231002") == "X"
    assert id_check_digit("44052418800101001") == "4"
    assert validate_id_number("11010519491231002X") is None
    assert validate_id_number("11010519491231002x") is None
    assert validate_id_number("  11010519491231002X ") is None


def test_born_before_1900_is_refused_even_with_right_check_digit():
    err = validate_id_number("440524188001010014")
    assert err is not None
    assert err.code == "id_birth_date"


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("", "required", "请填写"),
        ("1101051949123100", "id_length", "18位"),
        ("1101051949123100AX", "id_chars", "数字"),
        ("11010519491231002Y", "id_chars", "数字"),
        ("１１010519491231002X", "id_chars", "数字"),
        ("001105194912310021", "id_region", "地区码"),
        ("110105194902301234", "id_birth_date", "出生日期"),
        ("110105194912310029", "id_check_digit", "身份证号码校验位不正确，请核对"),
    ],
)
def test_id_errors_are_distinct(value, code, words):
    err = validate_id_number(value, today=TODAY)
    assert err is not None
    assert err.code == code
    assert words in err.message


def test_future_birth_date_refused():
    tomorrow = TODAY + timedelta(days=1)
    assert code_of(validate_id_number(make_id("110105", tomorrow), today=TODAY)) == "id_birth_date"
    assert validate_id_number(make_id("110105", TODAY), today=TODAY) is None


def test_id_field_name_is_passed_through():
    error = validate_id_number("1", field="applicant.id_number")
    assert error is not None
    assert error.field == "applicant.id_number"


def test_check_digit_rejects_bad_input():
    with pytest.raises(ValueError):
        id_check_digit("1234")
    with pytest.raises(ValueError):
        id_check_digit("1101051949123100X")


regions = st.sampled_from(["110105", "440524", "510107", "530102", "632123", "820000"])
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@settings(max_examples=60, deadline=None)
@given(regions, births, st.from_regex(r"[0-9]{3}", fullmatch=True))
def test_built_ids_are_valid(region, born, seq):
    assert validate_id_number(make_id(region, born, seq), today=TODAY) is None


@settings(max_examples=60, deadline=None)
@given(regions, births, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(region, born, pos, delta):
    good = make_id(region, born)
    bad_digit = str((int(good[pos]) + delta) % 10)
    bad = good[:pos] + bad_digit + good[pos + 1 :]
    assert validate_id_number(bad, today=TODAY) is not None


def test_normalise_id_number():
    assert normalise_id_number(" 11010519491231002x\n") == "11010519491231002X"


# --- mobile numbers -------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "8613812345678", "19912345678"],
)
def test_mobile_accepted(value):
    assert validate_mobile(value) is None
    assert normalise_mobile(value) in ("13812345678", "19912345678")


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "138123456789", "0731-1234567", "abc", "١٣٨١٢٣٤٥٦٧٨"])
def test_mobile_refused(value):
    err = validate_mobile(value)
    assert err is not None
    assert err.code == "phone_format"
    assert "11位" in err.message


def test_mobile_required():
    assert code_of(validate_mobile("  ")) == "required"


# --- whole capture --------------------------------------------------------

GOOD_ID = "11010519491231002X"


def good_form(**over):
    form = {
        "item_code": "DB-01",
        "applicant": {
            "name": "张三",
            "id_number": GOOD_ID,
            "phone": "13812345678",
            "address": "青山村三组12号",
            "group": "三组",
        },
        "fields": {"household_size": "4", "monthly_income": "1200.50", "reason": "因病致贫"},
        "materials": {
            "brought": ["M-APPLICATION", "M-ID", "M-HUKOU", "M-INCOME", "M-CHECK-AUTH"],
            "missing": [],
        },
        "submit": "submitted",
    }
    form.update(over)
    return form


@pytest.fixture
def cat():
    return Catalogue.default()


def test_good_form_is_clean(cat):
    assert validate_capture(cat, good_form(), today=TODAY) == []


def test_bad_form_reports_everything_at_once(cat):
    form = good_form(
        applicant={"name": "", "id_number": "11010519491231002", "phone": "123", "address": ""},
        fields={"household_size": "四口", "monthly_income": ""},
        materials={"brought": ["M-ID", "M-DESIGN"], "missing": ["M-ID"]},
    )
    errors = validate_capture(cat, form, today=TODAY)
    got = {(e.field, e.code) for e in errors}
    assert got == {
        ("applicant.name", "required"),
        ("applicant.id_number", "id_length"),
        ("applicant.phone", "phone_format"),
        ("applicant.address", "required"),
        ("fields.household_size", "number"),
        ("fields.monthly_income", "required"),
        ("fields.reason", "required"),
        ("materials", "unknown_material"),
        ("materials", "material_conflict"),
        ("materials", "materials_missing"),
    }
    assert all(isinstance(e, FieldError) and e.message for e in errors)
    missing = next(e for e in errors if e.code == "materials_missing")
    assert "申请书、户口簿、家庭收入及财产状况声明、经济状况核对授权书" in missing.message


@pytest.mark.parametrize("submit", ["awaiting_materials", "held"])
def test_missing_required_materials_allowed_when_not_submitting(cat, submit):
    form = good_form(materials={"brought": ["M-ID"], "missing": ["M-HUKOU"]}, submit=submit)
    assert validate_capture(cat, form, today=TODAY) == []


def test_unknown_and_inactive_item(cat):
    assert [(e.field, e.code) for e in validate_capture(cat, good_form(item_code="XX-01"))] == [
        ("item_code", "unknown_item")
    ]
    data = cat.to_dict()
    data["items"][3]["active"] = False
    errors = validate_capture(Catalogue(data), good_form(), today=TODAY)
    assert [(e.field, e.code) for e in errors] == [("item_code", "inactive_item")]
    assert "停用" in errors[0].message


def test_item_code_required(cat):
    errors = validate_capture(cat, good_form(item_code=""), today=TODAY)
    assert [(e.field, e.code) for e in errors] == [("item_code", "required")]


@pytest.mark.parametrize(
    ("name", "code"),
    [("张" * 31, "too_long"), ("张\x00三", "control_chars"), ("张\u200b三", "control_chars"), (123, "type")],
)
def test_name_rules(cat, name, code):
    form = good_form()
    form["applicant"]["name"] = name
    assert [(e.field, e.code) for e in validate_capture(cat, form, today=TODAY)] == [("applicant.name", code)]


def test_address_length(cat):
    form = good_form()
    form["applicant"]["address"] = "村" * 101
    assert [e.code for e in validate_capture(cat, form, today=TODAY)] == ["too_long"]
    form["applicant"]["address"] = "村" * 100
    assert validate_capture(cat, form, today=TODAY) == []


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2025-01-31", True), ("2025-02-30", False), ("20250131", False), ("2025/01/31", False), ("明天", False)],
)
def test_date_fields(cat, value, ok):
    form = good_form(
        item_code="JF-03",
        fields={"permit_no": "乡字第001号", "completion_date": value, "floor_area": 120},
        materials={"brought": ["M-APPLICATION", "M-ID", "M-PERMIT", "M-PHOTOS"], "missing": []},
    )
    errors = validate_capture(cat, form, today=TODAY)
    assert (errors == []) is ok
    if not ok:
        assert [(e.field, e.code) for e in errors] == [("fields.completion_date", "date")]


@pytest.mark.parametrize("value", ["-1", "NaN", "1e", True])
def test_number_fields_refuse_junk(cat, value):
    form = good_form()
    form["fields"]["household_size"] = value
    assert [e.field for e in validate_capture(cat, form, today=TODAY)] == ["fields.household_size"]


def test_optional_extra_field_may_be_blank(cat):
    form = good_form(
        item_code="DB-03",
        fields={"hardship": "房屋失火", "household_size": 3, "amount_requested": ""},
        materials={"brought": ["M-APPLICATION", "M-ID", "M-HUKOU", "M-INCOME"], "missing": []},
    )
    assert validate_capture(cat, form, today=TODAY) == []


def test_bad_submit_and_malformed_parts(cat):
    errors = validate_capture(cat, good_form(submit="now", materials={"brought": "M-ID"}), today=TODAY)
    assert {(e.field, e.code) for e in errors} == {("submit", "submit_choice"), ("materials", "format")}
    assert validate_capture(cat, "junk")[0].code == "format"


# --- masking --------------------------------------------------------------


def test_masks():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("李") == "*"
    assert mask_name("") == ""
    assert mask_phone("138 1234 5678") == "138****5678"
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("123") == "***"


def test_a_duplicate_application_names_the_application_as_the_papers_do() -> None:
    from shared.validation import duplicate_application

    named = duplicate_application("ZZ2345678", "宅基地审批").message
    assert "已有一件“宅基地审批”申请正在办理" in named
    already = duplicate_application("ZZ2345678", "农村最低生活保障申请").message
    assert "已有一件“农村最低生活保障申请”正在办理" in already
    assert "申请”的申请" not in already


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES, st.integers(min_value=0, max_value=3000))
def test_whole_capture_size_rule_is_json_dumps_length(data, limit):
    # The size measured for "too long" is json.dumps' length; the fast path must never change the answer.
    import json

    from shared.validation import _too_big

    size = len(json.dumps(data, ensure_ascii=False, default=str))
    refused = _too_big(data, limit)
    assert (refused is not None) == (size > limit)
    if refused is not None:
        assert refused.code == "too_long"


@settings(max_examples=400)
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(alphabet=st.sampled_from("ab 中文\t\n\u3000\u200b\u00a0x")),
        st.text(min_size=195, max_size=205, alphabet=st.sampled_from("a 中")),
    ),
    st.booleans(),
)
def test_a_text_field_is_checked_as_check_text_checks_it(value: object, required: bool) -> None:
    from shared.validation import TEXT_FIELD_MAX, _check_extra_field, _check_text

    spec = {"key": "k", "label": "项目", "type": "text", "required": required}
    if value is None or (isinstance(value, str) and not value.strip()):
        expected = _check_text(value, "fields.k", "项目", TEXT_FIELD_MAX, required=required)
    else:
        expected = _check_text(value, "fields.k", "项目", TEXT_FIELD_MAX)
    assert _check_extra_field(spec, value) == expected
