"""The per-capture checks' fast paths (#13) answer exactly as the checks did before them.

Each shipped function is compared with its former self (tests/shared/capture_reference.py) on
generated input: valid captures as the forms make them, the same with a few parts changed to
near-valid or hostile values (wrong types, huge or blank strings, control characters, non-ASCII
digits), and catalogues with odd number bounds and an inactive item. Same answer means the same
errors in the same order with the same codes, fields, msgids and parameters, the same normalised
values, or the same exception type.
"""

from __future__ import annotations

import copy
import functools
from datetime import date
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import catalogue as catalogue_module
from shared import intake, receipt_codes, validation
from shared.catalogue import Catalogue
from shared.msgid import Said
from tests.shared import capture_reference as before

EXAMPLES = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CAPTURE_EXAMPLES = settings(EXAMPLES, max_examples=400)


def _odd_catalogue() -> Catalogue:
    """The default catalogue with an inactive item and number fields whose bounds are unusual."""
    data = copy.deepcopy(catalogue_module.DEFAULT_CATALOGUE)
    items = {i["code"]: i for i in data["items"]}
    items["FP-03"]["active"] = False
    fields = {(code, f["key"]): f for code, i in items.items() for f in i["fields"]}
    fields["DB-01", "monthly_income"].update(min="1.5", max=2000, decimals=0)
    fields["DB-03", "household_size"].update(max="Infinity")
    fields["NJ-01", "land_area"].update(min="NaN")  # a comparison with it raises: so must both
    fields["YB-01", "members"].update(decimals=-1)
    fields["DY-01", "head_count"].update(min=[1])  # unhashable: not cached, and not a number
    fields["LY-01", "volume"].update(max="lots")  # not a number: the key's own bounds
    return Catalogue(data)


CATALOGUES = [Catalogue.default(), _odd_catalogue()]


def _said(value: Any) -> Any:
    """A message as its text, msgid and parameters (a Said compares equal to its text alone)."""
    if isinstance(value, Said):
        return (str(value), value.template, {k: _said(v) for k, v in value.params.items()})
    return value


def _errors(found: Any) -> Any:
    if isinstance(found, validation.FieldError):
        return (found.field, found.code, _said(found.message))
    if isinstance(found, list):
        return [_errors(e) for e in found]
    return found


def outcome(check: Any, *args: Any) -> Any:
    """What a call answers, comparable: its value (errors spelt out), or the type of what it raised."""
    try:
        return ("answered", _errors(check(*args)))
    except Exception as exc:  # noqa: BLE001 - the very exception is what is compared
        return ("raised", type(exc))


def make_id(region: str, born: str, seq: str) -> str:
    body = f"{region}{born}{seq}"
    return body + before.id_check_digit(body)


ids = st.builds(
    make_id,
    st.sampled_from(["430125", "110105", "000000", "991234"]),
    st.sampled_from(["19810817", "19000101", "18991231", "20240229", "20230229", "20991231", "19811301", "00000000"]),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
)
near_ids = st.one_of(
    ids,
    ids.map(str.lower),
    ids.map(lambda s: f" {s}\t"),
    ids.map(lambda s: s[:-1] + ("0" if s[-1] != "0" else "1")),
    ids.map(lambda s: s[:17]),
    ids.map(lambda s: s.translate(str.maketrans("0123456789", "０１２３４５６７８９"))),
    ids.map(lambda s: s[:5] + "٣" + s[6:]),
    st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True),
)
phones = st.one_of(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.sampled_from(["+86 138-0013-8000", "0086 13800138000", "8613800138000", "138 0013 8000", "（138）00138000"]),
    st.sampled_from(["12800138000", "1380013800", "138001380001", "１３８００１３８０００", "13800l38000"]),
)
numbers = st.one_of(
    st.sampled_from(["3", "0", "1", "20", "21", "30", "31", "1.5", "1.50", "1.500", "2.25", "3.14159", "0.00"]),
    st.sampled_from([" 3", "3 ", "1e3", "1E2", "-1", "-0", "+3", "٣", "３", "1.", ".5", "1_000", "1,000", "NaN"]),
    st.sampled_from(["00000000000000000003", "000000000000000000003", "99999999999999999999", "Infinity", ""]),
    st.integers(-5, 2_000_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(places=3, min_value=-10, max_value=10**7).map(str),
)
dates = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(
        ["2026-05-01", "2026-02-30", "2026-5-1", "20260501", "2026-W01-1", " 2026-05-01", "２０２６-05-01"]
    ),
)
odd_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from("ab 中文\t\n\r\x00\x1b\u3000\u200b\u00a0\u2028\ufeff\U0001f600"), max_size=12),
    st.sampled_from(["", " ", "\u3000", "x" * 31, "中" * 101, "中" * 201, "中" * 501, "a" * 9000, "张三\x00"]),
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**25), 10**25),
    st.floats(),
    odd_text,
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=6)), max_size=4),
    st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
)


# The strategies a capture is drawn from, made once: made again for each example (as they were), checking
# each new strategy took most of this module's time (docs/performance.md, "The suite's time").
_FIELD_VALUES = {
    "number": numbers,
    "date": dates,
    "text": st.sampled_from(["东至张家，西至李家", "x", "  ", "中" * 200]),
}
_RECEIPT_CODES = st.sampled_from(["ABTTA9A5N", "AB3-K7P-9QX"])
_NAMES = st.sampled_from(["张三", "欧阳娜娜", " 李四 "])
_GROUPS = st.sampled_from(["三组", "", None])
_SUBMITS = st.sampled_from(["submitted", "awaiting_materials", "held"])
_NOTES = st.sampled_from(["村民申请，材料齐全", "", None])


@functools.cache
def _some_of(codes: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(codes), unique=True)


def _valid(cat: Catalogue, item: dict[str, Any], draw: Any) -> dict[str, Any]:
    """A capture of the item as the forms make it (field values drawn near the valid ones)."""
    required = cat.required_materials(item["code"])
    brought = draw(_some_of(tuple(required))) if required and draw(st.booleans()) else required
    missing = [c for c in required if c not in brought]
    return {
        "receipt_code": draw(_RECEIPT_CODES),
        "item_code": item["code"],
        "catalogue_version": 1,
        "applicant": {
            "name": draw(_NAMES),
            "id_number": draw(ids),
            "phone": draw(phones),
            "address": "桃源村三组12号",
            "group": draw(_GROUPS),
        },
        "fields": {
            f["key"]: draw(_FIELD_VALUES[f["type"]]) for f in item["fields"] if f["required"] or draw(st.booleans())
        },
        "materials": {"brought": brought, "missing": missing},
        "submit": draw(_SUBMITS),
        "notes": draw(_NOTES),
    }


_CHANGES: dict[tuple[int, str], st.SearchStrategy[list[tuple[tuple[str, ...], Any]]]] = {}


def _changes_to(item: dict[str, Any], cat: Catalogue) -> st.SearchStrategy[list[tuple[tuple[str, ...], Any]]]:
    """Up to three changes to a capture of this item (made once for each item of each catalogue)."""
    key = (CATALOGUES.index(cat), item["code"])
    if key not in _CHANGES:
        _CHANGES[key] = st.lists(_changes(item, cat), max_size=3)
    return _CHANGES[key]


def _changes(item: dict[str, Any], cat: Catalogue) -> st.SearchStrategy[tuple[tuple[str, ...], Any]]:
    codes = [m["code"] for m in item["materials"]] + ["M-UNKNOWN", "M-ID"]
    material_lists = st.one_of(
        st.lists(st.sampled_from(codes), max_size=5),
        st.lists(st.one_of(st.sampled_from(codes), junk), max_size=3),
        st.tuples(st.sampled_from(codes)),
        junk,
    )
    field_keys = [f["key"] for f in item["fields"]] + ["not_in_catalogue"]
    items = [i["code"] for i in cat.items(include_inactive=True)]
    return st.one_of(
        st.tuples(st.just(("item_code",)), st.one_of(st.sampled_from(items + ["ZZ-99", " ", ""]), junk)),
        st.tuples(st.sampled_from([("applicant",), ("fields",), ("materials",), ("extra",)]), junk),
        st.tuples(st.just(("submit",)), st.one_of(st.sampled_from(validation.SUBMIT_CHOICES), junk)),
        st.tuples(st.just(("notes",)), st.one_of(st.sampled_from(["x" * 500, "x" * 501]), junk)),
        st.tuples(st.sampled_from(["name", "address", "group"]).map(lambda k: ("applicant", k)), junk),
        st.tuples(st.just(("applicant", "id_number")), st.one_of(near_ids, junk)),
        st.tuples(st.just(("applicant", "phone")), st.one_of(phones, junk)),
        st.tuples(st.sampled_from(field_keys).map(lambda k: ("fields", k)), st.one_of(numbers, dates, odd_text, junk)),
        st.tuples(st.sampled_from([("materials", "brought"), ("materials", "missing")]), material_lists),
    )


_DROP = object()


def _change(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    parent = data
    for key in path[:-1]:
        if not isinstance(parent.get(key), dict):
            return  # the part was replaced whole by an earlier change
        parent = parent[key]
    if value is _DROP:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value


_ONE_IN_TEN = st.integers(0, 9)
_TODAYS = st.sampled_from([None, date(2025, 6, 1), date(1990, 1, 1)])


@st.composite
def captures(draw: Any) -> tuple[Catalogue, Any, date | None]:
    cat = draw(st.sampled_from(CATALOGUES))
    item = draw(st.sampled_from(cat.items(include_inactive=True)))
    data = _valid(cat, item, draw)
    for path, value in draw(_changes_to(item, cat)):
        _change(data, path, _DROP if draw(_ONE_IN_TEN) == 0 else value)
    today = draw(_TODAYS)
    return cat, data, today


@CAPTURE_EXAMPLES
@given(captures())
def test_validate_capture_answers_as_before(case: tuple[Catalogue, Any, date | None]) -> None:
    cat, data, today = case
    assert outcome(validation.validate_capture, cat, data, today) == outcome(before.validate_capture, cat, data, today)


@CAPTURE_EXAMPLES
@given(captures())
def test_a_cleaned_capture_is_judged_as_before(case: tuple[Catalogue, Any, date | None]) -> None:
    # The hub and the counter clean before they judge: most cleaned captures take the fast path.
    cat, data, today = case
    if isinstance(data, dict):
        cleaned = intake.normalise_capture(data)
        assert cleaned == before.normalise_capture(data)
        assert outcome(validation.validate_capture, cat, cleaned, today) == outcome(
            before.validate_capture, cat, cleaned, today
        )


def test_the_generated_captures_reach_both_answers() -> None:
    # Without valid ones the fast path would not be compared at all; without invalid ones, nothing is.
    found = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(captures())
    def look(case: tuple[Catalogue, Any, date | None]) -> None:
        cat, data, today = case
        found.add(outcome(validation.validate_capture, cat, intake.normalise_capture(data), today) == ("answered", []))

    look()
    assert found == {True, False}


@EXAMPLES
@given(st.one_of(near_ids, junk), st.sampled_from([None, date(2025, 6, 1), date(1990, 1, 1)]))
def test_id_numbers_are_judged_as_before(value: Any, today: date | None) -> None:
    assert outcome(validation.validate_id_number, value, "applicant.id_number", today) == outcome(
        before.validate_id_number, value, "applicant.id_number", today
    )


@EXAMPLES
@given(st.one_of(st.from_regex(r"[0-9]{17}", fullmatch=True), st.text(max_size=18), junk))
def test_id_check_digit_as_before(first17: Any) -> None:
    assert outcome(validation.id_check_digit, first17) == outcome(before.id_check_digit, first17)


@EXAMPLES
@given(st.one_of(odd_text, junk), st.sampled_from([1, 30, 100, 200]), st.booleans())
def test_text_is_judged_as_before(value: Any, max_len: int, required: bool) -> None:
    assert outcome(validation._check_text, value, "f", "项目", max_len, required) == outcome(
        before._check_text, value, "f", "项目", max_len, required
    )


@EXAMPLES
@given(
    st.sampled_from(["text", "number", "date"]),
    st.booleans(),
    st.sampled_from(["household_size", "monthly_income", "unlisted"]),
    st.one_of(numbers, dates, odd_text, junk),
)
def test_extra_fields_are_judged_as_before(kind: str, required: bool, key: str, value: Any) -> None:
    spec = {"key": key, "label": "项目", "type": kind, "required": required}
    assert outcome(validation._check_extra_field, spec, value) == outcome(before._check_extra_field, spec, value)


@EXAMPLES
@given(
    st.sampled_from(CATALOGUES),
    st.sampled_from(["JF-01", "DB-01", "NY-01", "ZZ-99"]),
    st.one_of(
        st.lists(st.sampled_from(["M-APPLICATION", "M-ID", "M-HUKOU", "M-INCOME", "M-CHECK-AUTH", "M-X"])),
        st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=3),
        st.lists(st.lists(st.integers(), max_size=1), min_size=1, max_size=2),
    ),
)
def test_missing_materials_as_before(cat: Catalogue, item_code: str, brought: Any) -> None:
    assert outcome(cat.missing_materials, item_code, brought) == outcome(
        before.missing_materials, cat, item_code, brought
    )


@CAPTURE_EXAMPLES
@given(st.one_of(st.dictionaries(st.sampled_from(["applicant", "x"]), junk), captures().map(lambda c: c[1])))
def test_normalise_capture_as_before(data: dict[str, Any]) -> None:
    kept = copy.deepcopy(data)
    assert outcome(intake.normalise_capture, data) == outcome(before.normalise_capture, data)
    assert data == kept  # a copy, never the caller's dict changed


@CAPTURE_EXAMPLES
@given(st.one_of(st.dictionaries(st.sampled_from(["applicant", "x"]), junk), captures().map(lambda c: c[1])))
def test_a_capture_is_copied_to_be_cleaned_only_when_cleaning_changes_it(data: dict[str, Any]) -> None:
    # The hub reads "the same object" as "the node's bytes are the cleaned form" (hub/ingest.Prepared).
    kept = copy.deepcopy(data)
    cleaned = intake.cleaned_capture(data)
    assert cleaned == before.normalise_capture(data)
    assert (cleaned is data) == (before.normalise_capture(data) == data)
    assert data == kept


@CAPTURE_EXAMPLES
@given(captures())
def test_a_size_the_caller_measured_judges_as_measuring_it_again(case: tuple[Catalogue, Any, date | None]) -> None:
    cat, data, today = case
    try:
        size = len(msgspec.json.encode(data, order="sorted"))
    except (TypeError, ValueError, OverflowError):
        return  # not JSON: no caller has a size to give
    assert outcome(lambda: validation.validate_capture(cat, data, today, encoded_size=size)) == outcome(
        before.validate_capture, cat, data, today
    )


receipt_text = st.one_of(
    st.text(alphabet=receipt_codes.ALPHABET, min_size=8, max_size=9).map(lambda b: b + receipt_codes.check_char(b)),
    st.text(alphabet=receipt_codes.ALPHABET, min_size=0, max_size=31),
    st.text(alphabet=receipt_codes.ALPHABET + "01ILO- ab\u3000Ａ", max_size=12),
    st.text(max_size=12),
)


@EXAMPLES
@given(receipt_text, st.sampled_from(["AB", "ab", "2Z", "2ZZ", "ZZ", " AB", "A"]))
def test_receipt_codes_are_judged_as_before(code: str, prefix: str) -> None:
    assert receipt_codes.issued_by(code, prefix) == before.issued_by(code, prefix)
    assert receipt_codes.is_valid(code) == before._is_valid_normalised(receipt_codes.normalise(code))
    body = receipt_codes.normalise(code)[:-1]
    assert outcome(receipt_codes.check_char, body) == outcome(before.check_char, body)


def test_every_valid_form_of_every_item_passes_the_fast_path() -> None:
    # The fast path is only worth having if the captures the forms make take it.
    from tests.factories import capture

    cat = CATALOGUES[0]
    for item in cat.items():
        data = intake.normalise_capture(capture(item["code"], catalogue=cat))
        if not before.validate_capture(cat, data):
            assert validation._plainly_valid(cat, data, None), item["code"]


@EXAMPLES
@given(st.one_of(near_ids, junk), st.sampled_from([date(2025, 6, 1), date(1990, 1, 1), date(1981, 8, 17)]))
def test_the_stored_form_id_shortcut_accepts_only_what_the_full_check_accepts(value: Any, today: date) -> None:
    """_plainly_valid's _plain_id_number: never more than validate_id_number accepts, and all it
    accepts in the stored form (no blanks, X upper-case), so the fast path is the one taken."""
    accepted = outcome(validation.validate_id_number, value, "applicant.id_number", today) == ("answered", None)
    stored_form = isinstance(value, str) and value == validation.normalise_id_number(value)
    assert validation._plain_id_number(value, today) == (accepted and stored_form)


@EXAMPLES
@given(st.one_of(phones, junk))
def test_the_stored_form_phone_shortcut_accepts_only_what_the_full_check_accepts(value: Any) -> None:
    accepted = outcome(validation.validate_mobile, value, "applicant.phone") == ("answered", None)
    stored_form = isinstance(value, str) and value == validation.normalise_mobile(value)
    assert validation._plain_mobile(value) == (accepted and stored_form)


def test_a_birth_date_is_read_from_the_eight_digits_as_from_the_dashed_date() -> None:
    """_born_by reads YYYYMMDD as the dashed YYYY-MM-DD was read: every month and day 00-99 of leap,
    common and edge years."""
    for year in ("0000", "0001", "1899", "1900", "1904", "2000", "2023", "2024", "2100", "9999"):
        for mmdd in range(10_000):
            digits = f"{year}{mmdd:04d}"
            try:
                born: date | None = date.fromisoformat(f"{digits[:4]}-{digits[4:6]}-{digits[6:]}")
            except ValueError:
                born = None
            expected = born is not None and born.year >= 1900 and born <= date(2024, 2, 29)
            assert validation._born_by(f"430169{digits}1358", date(2024, 2, 29)) == expected, digits
