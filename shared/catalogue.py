"""The service catalogue (办事指南) as versioned, JSON-serialisable data.

The hub edits the catalogue and syncs it down to the village nodes, so it is
plain data (dicts, lists, str, int, bool) rather than code.  The starting catalogue
is the data file ``catalogue_default.json`` beside this module (windows, request kinds
and items), loaded and validated here for node and hub alike.  Its items are a
starting point a township checks and edits (each carries ``to_check`` until an admin
saves it); they are not legal advice.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from decimal import Decimal
from decimal import InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard
from .msgid import N_

MODES: dict[str, str] = {"immediate": N_("即办件"), "processed": N_("承办件")}

FIELD_TYPES = ("text", "number", "date")

# Optional free-text item fields shown in the service guide (服务指南); default empty.
GUIDE_TEXTS: dict[str, str] = {"conditions": "申办条件", "fee_basis": "收费标准及依据"}

# Declared bounds of what a catalogue may hold (the file, an admin's edit, a synced copy alike).
KIND_CODE = re.compile(r"^[A-Z]{2}$")
WINDOW_CODE = re.compile(r"^W\d{2}$")
ITEM_CODE = re.compile(r"^[A-Z]{2}-\d{2}$")
NAME_MAX = 100
TEXT_MAX = 2000
CODE_MAX = 40
LIMIT_DAYS_MAX = 999
PUBLICITY_DAYS_MAX = 30
LIST_MAX = 60

# Item flags beyond `active`; absent means false, so catalogues stored before them stay valid.
FLAGS: dict[str, str] = {
    "active": "启用状态",
    "county_approval": "报县级（乡镇初审后报县级审批）",
    "to_check": "默认事项待乡镇核对",
}
# The kinds of a catalogue stored before kinds were data (the village point's first three).
LEGACY_KINDS: tuple[dict[str, str], ...] = (
    {"code": "FP", "name": "计生"},
    {"code": "DB", "name": "低保"},
    {"code": "JF", "name": "建房"},
)

# Sane bounds of the catalogue's number fields, by field key: (least, most, decimal places).
# 现有子女数 is a count of a few, not 20 digits; areas and amounts have cents at most. A catalogue
# field may name its own "min"/"max"/"decimals"; a key not listed here gets NUMBER_DEFAULT.
NUMBER_BOUNDS: dict[str, tuple[int, int, int]] = {
    "child_order": (1, 20, 0),
    "children_count": (0, 20, 0),
    "household_size": (1, 30, 0),
    "floors": (1, 10, 0),
    "monthly_income": (0, 1_000_000, 2),
    "amount_requested": (0, 1_000_000, 2),
    "site_area": (0, 10_000, 2),
    "floor_area": (0, 10_000, 2),
    "house_area": (0, 10_000, 2),
}
NUMBER_DEFAULT: tuple[int, int, int] = (0, 100_000_000, 2)

# Where the township's starting catalogue lives: data, not code, so it is reviewed and edited as data.
DEFAULT_FILE = Path(__file__).with_name("catalogue_default.json")


class CatalogueError(ValueError):
    """A catalogue failed validation; `errors` holds the Chinese messages."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("；".join(errors))
        self.errors = errors


def _is_int(value: Any) -> TypeGuard[int]:
    # bool is an int subclass; True must not pass as a time limit or version.
    return isinstance(value, int) and not isinstance(value, bool)


def _nonblank(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _text_ok(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _validate_item(item: Any, index: int, window_codes: set[str], kind_codes: set[str]) -> list[str]:
    if not isinstance(item, dict):
        return [f"第{index + 1}个事项不是对象"]
    code = item.get("code")
    good_code = isinstance(code, str) and code.strip() != "" and len(code) <= CODE_MAX
    where = f"事项 {code}" if good_code else f"第{index + 1}个事项"
    errors: list[str] = []
    if not good_code:
        errors.append(f"{where}缺少编码（不超过 {CODE_MAX} 个字符）")
    if not _text_ok(item.get("name"), NAME_MAX) or not _nonblank(item.get("name")):
        errors.append(f"{where}缺少名称（不超过 {NAME_MAX} 个字）")
    if item.get("kind") not in kind_codes:
        errors.append(f"{where}的类别 “{str(item.get('kind'))[:CODE_MAX]}” 不在目录的类别中")
    if item.get("window") not in window_codes:
        errors.append(f"{where}所属窗口 “{str(item.get('window'))[:CODE_MAX]}” 不存在")
    if item.get("mode") not in MODES:
        errors.append(f"{where}的办件类型 “{str(item.get('mode'))[:CODE_MAX]}” 无效")
    limit = item.get("time_limit_days")
    if not _is_int(limit):
        errors.append(f"{where}的办理时限必须是整数（工作日）")
    elif not 0 <= limit <= LIMIT_DAYS_MAX:
        errors.append(f"{where}的办理时限须在 0 到 {LIMIT_DAYS_MAX} 个工作日之间")
    if not _text_ok(item.get("fee"), NAME_MAX):
        errors.append(f"{where}缺少收费标准（不超过 {NAME_MAX} 个字）")
    basis = item.get("legal_basis")
    if (
        not isinstance(basis, list)
        or not basis
        or len(basis) > LIST_MAX
        or not all(_nonblank(b) and len(b) <= TEXT_MAX for b in basis)
    ):
        errors.append(f"{where}缺少政策依据")
    if not _text_ok(item.get("procedure"), TEXT_MAX):
        errors.append(f"{where}缺少办理流程（不超过 {TEXT_MAX} 个字）")
    # Optional guide texts (申办条件, 收费依据): absent means empty, so older catalogues stay valid.
    for key, label in GUIDE_TEXTS.items():
        if not _text_ok(item.get(key, ""), TEXT_MAX):
            errors.append(f"{where}的{label}必须是文字（不超过 {TEXT_MAX} 个字）")
    for key, label in FLAGS.items():
        if not isinstance(item.get(key, False) if key != "active" else item.get(key), bool):
            errors.append(f"{where}的{label}必须是 true 或 false")
    days = item.get("publicity_days", 0)
    if not _is_int(days) or not 0 <= days <= PUBLICITY_DAYS_MAX:
        errors.append(f"{where}的公示天数须为 0 到 {PUBLICITY_DAYS_MAX} 的整数")

    fields = item.get("fields")
    if not isinstance(fields, list) or len(fields) > LIST_MAX:
        errors.append(f"{where}的填报项必须是列表（不超过 {LIST_MAX} 项）")
        fields = []
    keys: set[str] = set()
    for f in fields:
        if (
            not isinstance(f, dict)
            or not _nonblank(f.get("key"))
            or not _nonblank(f.get("label"))
            or len(f["key"]) > CODE_MAX
            or len(f["label"]) > NAME_MAX
        ):
            errors.append(f"{where}有填报项缺少 key 或名称")
            continue
        if f["key"] in keys:
            errors.append(f"{where}的填报项 {f['key']} 重复")
        keys.add(f["key"])
        if f.get("type") not in FIELD_TYPES:
            errors.append(f"{where}的填报项 {f['key']} 类型 “{str(f.get('type'))[:CODE_MAX]}” 无效")
        if not isinstance(f.get("required"), bool):
            errors.append(f"{where}的填报项 {f['key']} 必须注明是否必填")

    materials = item.get("materials")
    if not isinstance(materials, list) or not materials or len(materials) > LIST_MAX:
        errors.append(f"{where}没有列出申请材料（1 到 {LIST_MAX} 项）")
        materials = []
    mcodes: set[str] = set()
    for m in materials:
        if (
            not isinstance(m, dict)
            or not _nonblank(m.get("code"))
            or not _nonblank(m.get("name"))
            or len(m["code"]) > CODE_MAX
            or len(m["name"]) > NAME_MAX
        ):
            errors.append(f"{where}有申请材料缺少编码或名称")
            continue
        if m["code"] in mcodes:
            errors.append(f"{where}的申请材料 {m['code']} 重复")
        mcodes.add(m["code"])
        if not isinstance(m.get("required"), bool):
            errors.append(f"{where}的申请材料 {m['code']} 必须注明是否必需")
        if not _text_ok(m.get("note", ""), TEXT_MAX):
            errors.append(f"{where}的申请材料 {m['code']} 备注必须是文字")
    return errors


def _codes(entries: Any, what: str, pattern: re.Pattern[str] | None, errors: list[str]) -> set[str]:
    """The codes of a list of {code, name} entries (windows, kinds), noting every bad or repeated one."""
    codes: set[str] = set()
    for e in entries:
        if (
            not isinstance(e, dict)
            or not _nonblank(e.get("code"))
            or not _nonblank(e.get("name"))
            or len(e["code"]) > CODE_MAX
            or len(e["name"]) > NAME_MAX
        ):
            errors.append(f"有{what}缺少编码或名称")
            continue
        if pattern is not None and not pattern.match(e["code"]):
            errors.append(f"{what}编码 {e['code']} 格式不对")
        if e["code"] in codes:
            errors.append(f"{what}编码 {e['code']} 重复")
        codes.add(e["code"])
    return codes


def kinds_of(data: dict[str, Any]) -> list[dict[str, str]]:
    """The catalogue's request kinds; a catalogue stored before kinds were data has the first three."""
    kinds = data.get("kinds")
    return list(kinds) if isinstance(kinds, list) else [dict(k) for k in LEGACY_KINDS]


def validate_catalogue(data: Any) -> list[str]:
    """Return Chinese messages for every structural problem in a catalogue dict (empty if sound)."""
    if not isinstance(data, dict):
        return ["事项目录格式错误：必须是对象"]
    errors: list[str] = []
    version = data.get("version")
    if not _is_int(version) or not 1 <= version <= 2**31 - 1:
        errors.append("事项目录版本号必须是正整数")

    windows = data.get("windows")
    if not isinstance(windows, list) or not windows or len(windows) > LIST_MAX:
        errors.append(f"事项目录没有窗口（1 到 {LIST_MAX} 个）")
        windows = []
    window_codes = _codes(windows, "窗口", None, errors)
    kinds = kinds_of(data)
    if not kinds or len(kinds) > LIST_MAX:
        errors.append(f"事项目录没有类别（1 到 {LIST_MAX} 个）")
        kinds = []
    kind_codes = _codes(kinds, "类别", KIND_CODE, errors)

    items = data.get("items")
    if not isinstance(items, list) or len(items) > 1000:
        errors.append("事项目录的事项必须是列表（不超过 1000 项）")
        items = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        errors.extend(_validate_item(item, i, window_codes, kind_codes))
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str):
            if code in seen:
                errors.append(f"事项编码 {code} 重复")
            seen.add(code)
    return errors


def load_file(path: Path) -> dict[str, Any]:
    """Read and validate a catalogue file; CatalogueError naming the file says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CatalogueError([f"事项目录文件 {path} 无法读取：{exc}"]) from None
    errors = validate_catalogue(data)
    if errors:
        raise CatalogueError([f"事项目录文件 {path} 有误：{e}" for e in errors])
    loaded: dict[str, Any] = data
    return loaded


def number_bounds(spec: dict[str, Any]) -> tuple[Decimal, Decimal, int]:
    """The (least, most, decimal places) a number field accepts: the catalogue's own, else NUMBER_BOUNDS.

    Not cached: the fast path of validation reads each field's bounds from its catalogue's capture
    plan (built once per catalogue), so only a capture refused the long way reads them here (1.3 µs).
    """
    low, high, places = NUMBER_BOUNDS.get(str(spec.get("key")), NUMBER_DEFAULT)
    try:
        return (
            Decimal(str(spec.get("min", low))),
            Decimal(str(spec.get("max", high))),
            int(spec.get("decimals", places)),
        )
    except (InvalidOperation, TypeError, ValueError):
        return Decimal(low), Decimal(high), places


NO_BOUNDS = (Decimal(0), Decimal(0), 0)  # the bounds slot of a plan's field that is not a number


def _whole_where_exact(bounds: tuple[Decimal, Decimal, int]) -> tuple[Decimal | int, Decimal | int, int]:
    """A plan's bounds with each whole-number bound as an int: equal to it, and compared with the int
    of a whole number typed (most are) without a conversion to Decimal (half the time)."""
    low, high, places = bounds
    return (
        (int(low) if low == low.to_integral_value() else low),
        (int(high) if high == high.to_integral_value() else high),
        places,
    )


class CapturePlan(NamedTuple):
    """What a capture of one active item must hold to pass, read once from its catalogue entry."""

    fields: tuple[tuple[str, str, bool, tuple[Decimal | int, Decimal | int, int]], ...]  # key, type, required, bounds
    materials: frozenset[str]
    required: frozenset[str]


class Catalogue:
    """Read-only lookups over one version of the catalogue data."""

    def __init__(self, data: dict[str, Any]) -> None:
        """Wrap a catalogue dict, raising CatalogueError if it is not sound."""
        errors = validate_catalogue(data)
        if errors:
            raise CatalogueError(errors)
        # A private copy, so a caller mutating its dict cannot change what we answer.
        self._data: dict[str, Any] = copy.deepcopy(data)
        self._items = {i["code"]: i for i in self._data["items"]}
        self._windows = {w["code"]: w for w in self._data["windows"]}
        # Asked twice for every captured event the hub ingests (validation, then the clock).
        self._required = {i["code"]: [m["code"] for m in i["materials"] if m["required"]] for i in self._data["items"]}
        self._required_sets = {code: frozenset(codes) for code, codes in self._required.items()}
        # Each captured event's materials are checked against these: built once, not per event.
        self._material_codes = {i["code"]: frozenset(m["code"] for m in i["materials"]) for i in self._data["items"]}
        self._material_names = {
            i["code"]: [(m["code"], m["name"]) for m in i["materials"]] for i in self._data["items"]
        }

    @functools.cached_property
    def _capture_plans(self) -> dict[str, CapturePlan]:
        # Built on the first capture checked against this object, then kept with it: the hub checks
        # thousands of captures against one version; a catalogue only printed never builds them.
        plans = {}
        for item in self.items():  # active ones: an inactive item is an error, found the long way
            fields = []
            for spec in item["fields"]:
                bounds = number_bounds(spec) if spec["type"] == "number" else NO_BOUNDS
                if not (bounds[0].is_finite() and bounds[1].is_finite()):
                    break  # a bound a comparison would refuse: every capture of the item goes the long way
                fields.append((spec["key"], spec["type"], spec["required"], _whole_where_exact(bounds)))
            else:
                code = item["code"]
                plans[code] = CapturePlan(tuple(fields), self._material_codes[code], self._required_sets[code])
        return plans

    def capture_plan(self, item_code: str) -> CapturePlan | None:
        """What a capture of this active item must hold (validation's fast path); None: check it the long way."""
        return self._capture_plans.get(item_code)

    @classmethod
    def default(cls) -> Catalogue:
        """Return the built-in starting catalogue."""
        return cls(DEFAULT_CATALOGUE)

    def kinds(self) -> list[dict[str, str]]:
        """The request kinds (类别), in catalogue order."""
        return kinds_of(self._data)

    def kind_name(self, code: str) -> str:
        """The kind's name, or the code itself when unknown so pages still render."""
        return next((k["name"] for k in self.kinds() if k["code"] == code), code)

    @property
    def version(self) -> int:
        """The catalogue version number."""
        return int(self._data["version"])

    def item(self, code: str) -> dict[str, Any] | None:
        """Return the item with this code (active or not), or None."""
        return self._items.get(code)

    def items(self, kind: str | None = None, include_inactive: bool = False) -> list[dict[str, Any]]:
        """Return items in catalogue order, optionally of one kind, active only unless asked."""
        return [
            i for i in self._data["items"] if (kind is None or i["kind"] == kind) and (include_inactive or i["active"])
        ]

    def windows(self) -> list[dict[str, str]]:
        """Return all windows in catalogue order."""
        return list(self._data["windows"])

    def window(self, code: str) -> dict[str, str] | None:
        """Return the window with this code, or None."""
        return self._windows.get(code)

    def window_name(self, code: str) -> str:
        """Return the window's name, or the code itself when unknown so pages still render."""
        w = self._windows.get(code)
        return w["name"] if w else code

    def passes_up(self, item_code: str) -> bool:
        """Whether the township only examines this item and passes it up for the county's decision (报县级)."""
        item = self._items.get(item_code)
        return bool(item and item.get("county_approval"))

    def publicity_days(self, item_code: str) -> int:
        """Days the item's result is published (公示) before approval; 0 for none."""
        item = self._items.get(item_code)
        return int(item.get("publicity_days", 0)) if item else 0

    def materials(self, item_code: str) -> list[dict[str, Any]]:
        """Return the item's material entries, or an empty list for an unknown item."""
        item = self._items.get(item_code)
        return list(item["materials"]) if item else []

    def fields(self, item_code: str) -> list[dict[str, Any]]:
        """Return the item's extra field definitions, or an empty list for an unknown item."""
        item = self._items.get(item_code)
        return list(item["fields"]) if item else []

    def required_materials(self, item_code: str) -> list[str]:
        """Return the codes of the item's required materials, in catalogue order."""
        return list(self._required.get(item_code, ()))

    def material_codes(self, item_code: str) -> frozenset[str]:
        """Return the codes of the item's materials (empty for an unknown item)."""
        return self._material_codes.get(item_code, frozenset())

    def material_names(self, item_code: str, codes: list[str] | set[str]) -> list[str]:
        """Return the names of the given material codes in catalogue order, skipping unknown codes."""
        if not codes:
            return []
        wanted = set(codes)
        return [name for code, name in self._material_names.get(item_code, ()) if code in wanted]

    def missing_materials(self, item_code: str, brought_codes: list[str] | set[str]) -> list[str]:
        """Return the codes of required materials not among those brought, in catalogue order."""
        brought = set(brought_codes)
        required = self._required.get(item_code, ())
        if not required or self._required_sets[item_code] <= brought:
            return []  # the usual answer (everything required was brought), without a loop
        return [c for c in required if c not in brought]

    def to_dict(self) -> dict[str, Any]:
        """Return a deep copy of the underlying data, ready for JSON."""
        return copy.deepcopy(self._data)


# Loaded once at import: a broken file stops both apps at start with the file named, never mid-request.
DEFAULT_CATALOGUE: dict[str, Any] = load_file(DEFAULT_FILE)
WINDOWS: list[dict[str, str]] = list(DEFAULT_CATALOGUE["windows"])
KINDS: dict[str, str] = {k["code"]: k["name"] for k in kinds_of(DEFAULT_CATALOGUE)}
