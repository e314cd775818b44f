"""Tests for the service catalogue data and its lookups."""

import copy
import gc
import json
import weakref
from decimal import Decimal

import pytest

from shared.catalogue import DEFAULT_CATALOGUE
from shared.catalogue import KINDS
from shared.catalogue import WINDOWS
from shared.catalogue import Catalogue
from shared.validation import validate_capture
from tests.factories import capture
from tests.factories import item_of
from shared.catalogue import CatalogueError
from shared.catalogue import validate_catalogue


def _walk(value):
    yield value
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def test_default_catalogue_validates_clean():
    assert validate_catalogue(DEFAULT_CATALOGUE) == []


def test_default_catalogue_shape():
    cat = Catalogue.default()
    assert cat.version == 1
    assert len(cat.windows()) == 14
    assert [i["code"] for i in cat.items()][:9] == [
        "FP-01",
        "FP-02",
        "FP-03",
        "DB-01",
        "DB-02",
        "DB-03",
        "JF-01",
        "JF-02",
        "JF-03",
    ]
    # Every one of the centre's 14 windows has at least one item.
    assert {i["window"] for i in cat.items()} == {w["code"] for w in cat.windows()}
    assert [w["name"] for w in WINDOWS][:5] == ["党政综合", "司法综治", "信访接待", "群众工作站", "民政"]
    assert WINDOWS[-1] == {"code": "W14", "name": "林业"}
    assert list(KINDS.items())[:3] == [("FP", "计生"), ("DB", "低保"), ("JF", "建房")]


def test_default_catalogue_is_plain_json():
    allowed = (dict, list, str, int, bool)
    assert all(isinstance(v, allowed) for v in _walk(DEFAULT_CATALOGUE))
    assert json.loads(json.dumps(DEFAULT_CATALOGUE, ensure_ascii=False)) == DEFAULT_CATALOGUE


@pytest.mark.parametrize(
    ("code", "window", "mode", "days"),
    [
        ("FP-01", "计划生育", "immediate", 0),
        ("FP-02", "计划生育", "processed", 20),
        ("DB-01", "民政", "processed", 30),
        ("DB-02", "民政", "processed", 15),
        ("DB-03", "民政", "processed", 10),
        ("JF-01", "国土与城建", "processed", 20),
        ("JF-02", "国土与城建", "processed", 30),
        ("JF-03", "国土与城建", "processed", 10),
    ],
)
def test_items_match_design(code, window, mode, days):
    cat = Catalogue.default()
    item = item_of(cat, code)
    assert cat.window_name(item["window"]) == window
    assert item["mode"] == mode
    assert item["time_limit_days"] == days
    assert item["kind"] == code[:2]
    assert item["fee"] == "免费"
    assert 3 <= len(item["materials"]) <= 6


def test_legal_bases_cited():
    cat = Catalogue.default()
    assert any("62" in b or "六十二" in b for b in item_of(cat, "JF-01")["legal_basis"])
    assert any("农经发〔2019〕6号" in b for b in item_of(cat, "JF-01")["legal_basis"])
    assert any("民发〔2021〕57号" in b for b in item_of(cat, "DB-01")["legal_basis"])
    assert any("人口与计划生育法" in b for b in item_of(cat, "FP-01")["legal_basis"])


def test_material_lookups():
    cat = Catalogue.default()
    assert cat.required_materials("JF-01") == [
        "M-APPLICATION",
        "M-ID",
        "M-HUKOU",
        "M-GROUP-MINUTES",
        "M-NEIGHBOURS",
    ]
    assert "M-DESIGN" not in cat.required_materials("JF-01")
    assert cat.missing_materials("JF-01", ["M-ID", "M-DESIGN", "M-HUKOU"]) == [
        "M-APPLICATION",
        "M-GROUP-MINUTES",
        "M-NEIGHBOURS",
    ]
    # Catalogue order, not the order asked for; unknown codes skipped.
    assert cat.material_names("DB-01", ["M-CHECK-AUTH", "M-ID", "M-NOPE"]) == [
        "身份证",
        "经济状况核对授权书",
    ]
    assert cat.required_materials("NOPE") == []
    assert cat.item("NOPE") is None
    assert cat.window("W99") is None
    assert cat.window_name("W99") == "W99"


def test_items_filters_kind_and_inactive():
    data = copy.deepcopy(DEFAULT_CATALOGUE)
    data["items"][4]["active"] = False  # DB-02
    cat = Catalogue(data)
    assert [i["code"] for i in cat.items(kind="DB")] == ["DB-01", "DB-03"]
    assert [i["code"] for i in cat.items(kind="DB", include_inactive=True)] == ["DB-01", "DB-02", "DB-03"]
    assert item_of(cat, "DB-02")["active"] is False


def test_catalogue_is_isolated_from_caller_data():
    data = copy.deepcopy(DEFAULT_CATALOGUE)
    cat = Catalogue(data)
    data["items"][0]["name"] = "改过"
    out = cat.to_dict()
    out["items"][0]["name"] = "又改过"
    assert item_of(cat, "FP-01")["name"] == "生育登记"
    assert item_of(Catalogue.default(), "FP-01")["name"] == "生育登记"


def test_validate_catalogue_reports_each_problem():
    data = copy.deepcopy(DEFAULT_CATALOGUE)
    data["items"][0]["window"] = "W99"
    data["items"][1]["code"] = "FP-01"
    data["items"][2]["time_limit_days"] = -1
    data["items"][3]["materials"] = []
    data["items"][4]["mode"] = "fast"
    data["items"][5]["fields"].append(dict(data["items"][5]["fields"][0]))
    errors = validate_catalogue(data)
    text = "\n".join(errors)
    assert "W99" in text
    assert "不存在" in text
    assert "事项编码 FP-01 重复" in text
    assert "办理时限须在 0 到 999 个工作日之间" in text
    assert "没有列出申请材料" in text
    assert "办件类型" in text
    assert "填报项 hardship 重复" in text
    with pytest.raises(CatalogueError) as info:
        Catalogue(data)
    assert info.value.errors == errors


@pytest.mark.parametrize(
    "data",
    [None, [], {"version": 0, "windows": WINDOWS, "items": []}, {"version": True, "windows": WINDOWS, "items": []}],
)
def test_validate_catalogue_rejects_bad_top_level(data):
    assert validate_catalogue(data)


def test_time_limit_must_be_int_not_bool_or_float():
    for bad in (True, 1.5, "10"):
        data = copy.deepcopy(DEFAULT_CATALOGUE)
        data["items"][0]["time_limit_days"] = bad
        assert any("整数" in e for e in validate_catalogue(data)), bad


def test_default_catalogue_is_the_data_file_and_corrects_the_reviewed_defaults():
    from shared.catalogue import DEFAULT_FILE, load_file

    assert DEFAULT_FILE.name == "catalogue_default.json"
    assert load_file(DEFAULT_FILE) == DEFAULT_CATALOGUE
    cat = Catalogue.default()
    assert "土地管理法" not in "".join(item_of(cat, "JF-02")["legal_basis"])
    assert "第四十五条" not in "".join(item_of(cat, "JF-03")["legal_basis"])
    assert any("竣工验收" in b for b in item_of(cat, "JF-03")["legal_basis"])
    assert "计划生育家庭特别扶助" in item_of(cat, "FP-03")["name"]
    assert item_of(cat, "JF-01")["name"] == "农村宅基地和建房（规划许可）申请"
    texts = [i["name"] for i in cat.items()] + [m["note"] for i in cat.items() for m in i["materials"]]
    assert not [t for t in texts if "(" in t or ")" in t]
    assert [i["code"] for i in cat.items() if cat.passes_up(i["code"])] == ["FP-02", "FP-03", "JF-02"]
    assert cat.publicity_days("DB-01") == 7
    assert cat.publicity_days("DB-02") == 0
    for item in cat.items():
        assert item["to_check"] is True
        assert item["legal_basis"]
        assert item["materials"]
        assert item["fee"]
        assert item["mode"] in ("immediate", "processed")
    forestry = [i for i in cat.items() if i["window"] == "W14"]
    assert forestry
    assert forestry[0]["kind"] == "LY"
    assert cat.kind_name("LY") == "林业"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{not json", "无法读取"),
        (
            json.dumps(
                {
                    "version": 1,
                    "windows": [{"code": "W01", "name": "党政综合"}],
                    "kinds": [{"code": "FP", "name": "计生"}],
                    "items": [{"code": "XX-01", "kind": "XX", "window": "W09"}],
                }
            ),
            "不在目录的类别中",
        ),
    ],
)
def test_an_invalid_catalogue_file_is_a_clear_error(tmp_path, text, said):
    from shared.catalogue import CatalogueError, load_file

    path = tmp_path / "catalogue.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_file(path)
    assert str(path) in info.value.errors[0]
    assert said in str(info.value)


def test_catalogue_bounds_are_checked():
    data = copy.deepcopy(DEFAULT_CATALOGUE)
    data["items"][0]["name"] = "长" * 101
    data["items"][1]["publicity_days"] = 99
    data["items"][2]["county_approval"] = "yes"
    data["kinds"].append({"code": "abc", "name": "小写"})
    text = "\n".join(validate_catalogue(data))
    assert "缺少名称（不超过 100 个字）" in text
    assert "公示天数须为 0 到 30 的整数" in text
    assert "报县级" in text
    assert "类别编码 abc 格式不对" in text


def test_a_catalogue_stored_before_kinds_were_data_keeps_the_first_three():
    data = copy.deepcopy(DEFAULT_CATALOGUE)
    del data["kinds"]
    data["items"] = [i for i in data["items"] if i["kind"] in ("FP", "DB", "JF")]
    assert [k["code"] for k in Catalogue(data).kinds()] == ["FP", "DB", "JF"]


def test_capture_plan_is_kept_with_its_catalogue_and_reads_that_catalogue_only():
    data = copy.deepcopy(DEFAULT_CATALOGUE)
    items = {i["code"]: i for i in data["items"]}
    items["FP-03"]["active"] = False
    next(f for f in items["DB-01"]["fields"] if f["key"] == "monthly_income").update(max=2000, decimals=0)
    next(f for f in items["DB-03"]["fields"] if f["key"] == "household_size").update(max="Infinity")
    own, default = Catalogue(data), Catalogue.default()

    plan, default_plan = own.capture_plan("DB-01"), default.capture_plan("DB-01")
    assert plan is not None
    assert default_plan is not None
    assert plan is own.capture_plan("DB-01")  # built once with the catalogue, not per capture
    assert ("monthly_income", "number", True, (Decimal(0), Decimal(2000), 0)) in plan.fields
    assert ("monthly_income", "number", True, (Decimal(0), Decimal(1_000_000), 2)) in default_plan.fields
    assert plan.materials == own.material_codes("DB-01")
    assert plan.required == set(own.required_materials("DB-01"))
    # An inactive item, a bound no comparison takes, an unknown code: the long way, every time.
    assert own.capture_plan("FP-03") is None
    assert default.capture_plan("FP-03") is not None
    assert own.capture_plan("DB-03") is None
    assert own.capture_plan("XX-99") is None


def test_a_catalogue_checked_against_is_not_kept_alive_by_the_checks():
    # The per-catalogue checks live on the catalogue: once the hub or node drops a version,
    # nothing else holds it (a module cache of the last few catalogues did).
    catalogue = Catalogue(copy.deepcopy(DEFAULT_CATALOGUE))
    assert validate_capture(catalogue, capture("DB-01", catalogue=catalogue)) == []
    assert validate_capture(catalogue, {"item_code": "DB-01"}) != []
    gone = weakref.ref(catalogue)
    del catalogue
    gc.collect()
    assert gone() is None
