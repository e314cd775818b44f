"""The service catalogue (办事指南) as versioned, JSON-serialisable data.

The hub edits the catalogue and syncs it down to the village nodes, so it is
plain data (dicts, lists, str, int, bool) rather than code.  The defaults below
are a starting point a township edits; they are not legal advice.
"""

from __future__ import annotations

import copy
from typing import Any, TypeGuard
from .msgid import N_

WINDOWS: list[dict[str, str]] = [
    {"code": "W01", "name": "党政综合"},
    {"code": "W02", "name": "司法综治"},
    {"code": "W03", "name": "信访接待"},
    {"code": "W04", "name": "群众工作站"},
    {"code": "W05", "name": "民政"},
    {"code": "W06", "name": "社会保障"},
    {"code": "W07", "name": "财政与农经"},
    {"code": "W08", "name": "农村合作医疗"},
    {"code": "W09", "name": "国土与城建"},
    {"code": "W10", "name": "计划生育"},
    {"code": "W11", "name": "农技"},
    {"code": "W12", "name": "动物防疫"},
    {"code": "W13", "name": "水利"},
    {"code": "W14", "name": "林业"},
]

KINDS: dict[str, str] = {"FP": N_("计生"), "DB": N_("低保"), "JF": N_("建房")}

MODES: dict[str, str] = {"immediate": N_("即办件"), "processed": N_("承办件")}

FIELD_TYPES = ("text", "number", "date")

# Optional free-text item fields shown in the service guide (服务指南); default empty.
GUIDE_TEXTS: dict[str, str] = {"conditions": "申办条件", "fee_basis": "收费标准及依据"}

_FP_LAW = ["《中华人民共和国人口与计划生育法》", "省人口与计划生育条例"]
_DB_LAW = [
    "《社会救助暂行办法》",
    "《最低生活保障审核确认办法》（民发〔2021〕57号）",
]
_JF_LAW = [
    "《中华人民共和国土地管理法》第六十二条",
    "《农业农村部 自然资源部关于规范农村宅基地审批管理的通知》（农经发〔2019〕6号）",
]


def _field(key: str, label: str, type_: str, required: bool = True) -> dict[str, Any]:
    return {"key": key, "label": label, "type": type_, "required": required}


def _mat(code: str, name: str, required: bool = True, note: str = "") -> dict[str, Any]:
    return {"code": code, "name": name, "required": required, "note": note}


def _item(
    code: str,
    name: str,
    window: str,
    mode: str,
    days: int,
    legal_basis: list[str],
    procedure: str,
    fields: list[dict[str, Any]],
    materials: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "kind": code[:2],
        "window": window,
        "mode": mode,
        "time_limit_days": days,
        "fee": "免费",
        "legal_basis": legal_basis,
        "procedure": procedure,
        "active": True,
        "fields": fields,
        "materials": materials,
    }


_ITEMS: list[dict[str, Any]] = [
    _item(
        "FP-01", "生育登记", "W10", "immediate", 0, _FP_LAW,
        "代办点收件核对 → 计划生育窗口当场登记 → 出具生育登记服务单",
        [
            _field("spouse_name", "配偶姓名", "text"),
            _field("spouse_id_number", "配偶身份证号码", "text"),
            _field("child_order", "本次登记为第几个孩子", "number"),
            _field("expected_birth_date", "预产期或子女出生日期", "date", required=False),
        ],
        [
            _mat("M-ID", "身份证", note="夫妻双方"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-MARRIAGE", "结婚证"),
            _mat("M-BIRTH-CERT", "出生医学证明", required=False, note="子女已出生的提供"),
        ],
    ),
    _item(
        "FP-02", "农村部分计划生育家庭奖励扶助申报", "W10", "processed", 20, _FP_LAW,
        "本人申请 → 村委会审查并张榜公示 → 镇计划生育窗口审核 → 报县级确认 → 资金按年发放",
        [
            _field("spouse_name", "配偶姓名", "text", required=False),
            _field("children_count", "现有子女数", "number"),
            _field("youngest_child_birth_date", "最小子女出生日期", "date", required=False),
        ],
        [
            _mat("M-APPLICATION", "申请书", note="奖励扶助对象申报表"),
            _mat("M-ID", "身份证"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-MARRIAGE", "结婚证", required=False, note="已婚的提供"),
            _mat("M-CHILD-PROOF", "独生子女证或子女情况证明"),
            _mat("M-VILLAGE-OPINION", "村委会审查意见"),
        ],
    ),
    _item(
        "FP-03", "计划生育特殊家庭扶助申请", "W10", "processed", 20, _FP_LAW,
        "本人申请 → 村委会审查 → 镇计划生育窗口审核 → 报县级审批 → 扶助金按月发放",
        [
            _field("spouse_name", "配偶姓名", "text", required=False),
            _field("child_name", "子女姓名", "text"),
            _field("event_date", "子女死亡或伤残鉴定日期", "date"),
        ],
        [
            _mat("M-APPLICATION", "申请书"),
            _mat("M-ID", "身份证"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-CHILD-EVENT", "子女死亡证明或残疾证", note="死亡证明与残疾证提供其一"),
            _mat("M-VILLAGE-OPINION", "村委会审查意见"),
        ],
    ),
    _item(
        "DB-01", "农村最低生活保障申请", "W05", "processed", 30, _DB_LAW,
        "户主申请 → 经济状况核对 → 入户调查 → 村民代表评议 → 镇民政窗口审核确认 → 公示 → 按月发放",
        [
            _field("household_size", "共同生活家庭成员人数", "number"),
            _field("monthly_income", "家庭月总收入（元）", "number"),
            _field("reason", "申请理由", "text"),
        ],
        [
            _mat("M-APPLICATION", "申请书"),
            _mat("M-ID", "身份证", note="共同生活家庭成员"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-INCOME", "家庭收入及财产状况声明"),
            _mat("M-CHECK-AUTH", "经济状况核对授权书", note="共同生活家庭成员逐一签字"),
            _mat("M-HARDSHIP-PROOF", "残疾、疾病等困难证明", required=False, note="有重病、残疾的提供"),
        ],
    ),
    _item(
        "DB-02", "低保家庭变更/停保", "W05", "processed", 15, _DB_LAW,
        "户主申请或村委会报告 → 核实变化情况 → 镇民政窗口审核 → 调整或停发保障金",
        [
            _field("change_type", "变更类型（人口、收入、停保等）", "text"),
            _field("household_size", "变更后家庭成员人数", "number", required=False),
            _field("monthly_income", "变更后家庭月总收入（元）", "number", required=False),
        ],
        [
            _mat("M-APPLICATION", "申请书"),
            _mat("M-ID", "身份证"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-CHANGE-PROOF", "家庭情况变化证明"),
            _mat("M-DIBAO-CARD", "低保证", required=False),
        ],
    ),
    _item(
        "DB-03", "临时救助申请", "W05", "processed", 10,
        _DB_LAW + ["《国务院关于全面建立临时救助制度的通知》（国发〔2014〕47号）"],
        "本人申请 → 村委会核实 → 镇民政窗口审核审批 → 发放救助金；情况紧急的先行救助、事后补办",
        [
            _field("hardship", "困难事由", "text"),
            _field("household_size", "共同生活家庭成员人数", "number"),
            _field("amount_requested", "申请救助金额（元）", "number", required=False),
        ],
        [
            _mat("M-APPLICATION", "申请书"),
            _mat("M-ID", "身份证"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-INCOME", "家庭收入及财产状况声明"),
            _mat("M-HARDSHIP-PROOF", "困难情况证明", required=False, note="如医疗费用票据、事故证明"),
        ],
    ),
    _item(
        "JF-01", "农村宅基地和建房(规划许可)申请", "W09", "processed", 20,
        _JF_LAW + ["《中华人民共和国城乡规划法》第四十一条"],
        "农户申请 → 村民小组会议讨论并公示 → 村级组织审查 → 镇国土与城建窗口一窗受理、联审 → "
        "核发宅基地批准书和乡村建设规划许可证 → 开工前实地丈量批放",
        [
            _field("site_location", "宅基地位置（组别及四至）", "text"),
            _field("site_area", "申请宅基地面积（平方米）", "number"),
            _field("floor_area", "拟建房屋建筑面积（平方米）", "number"),
            _field("floors", "拟建层数", "number", required=False),
        ],
        [
            _mat("M-APPLICATION", "申请书", note="农村宅基地和建房(规划许可)申请表"),
            _mat("M-ID", "身份证"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-GROUP-MINUTES", "村民小组会议记录"),
            _mat("M-NEIGHBOURS", "四邻意见"),
            _mat("M-DESIGN", "建房设计图", required=False, note="可选用通用图集"),
        ],
    ),
    _item(
        "JF-02", "农村危房改造补助申请", "W09", "processed", 30,
        _JF_LAW[:1] + ["《农村危险房屋鉴定技术导则（试行）》", "县级农村危房改造实施方案"],
        "农户申请 → 村委会评议公示 → 房屋危险性鉴定 → 镇国土与城建窗口审核 → 报县级审批 → 竣工验收后拨付补助",
        [
            _field("house_location", "房屋位置", "text"),
            _field("house_area", "现有房屋面积（平方米）", "number"),
            _field("household_size", "家庭人口数", "number"),
        ],
        [
            _mat("M-APPLICATION", "申请书"),
            _mat("M-ID", "身份证"),
            _mat("M-HUKOU", "户口簿"),
            _mat("M-DANGER", "房屋危险性鉴定", note="C级或D级鉴定结论"),
            _mat("M-VILLAGE-OPINION", "村委会审查意见"),
            _mat("M-PRIORITY-PROOF", "低保、特困等身份证明", required=False, note="属重点对象的提供"),
        ],
    ),
    _item(
        "JF-03", "农村建房竣工验收", "W09", "processed", 10,
        _JF_LAW[1:] + ["《中华人民共和国城乡规划法》第四十五条"],
        "农户申请验收 → 镇国土与城建窗口组织实地核查 → 出具验收意见 → 可申请不动产登记",
        [
            _field("permit_no", "乡村建设规划许可证编号", "text"),
            _field("completion_date", "竣工日期", "date"),
            _field("floor_area", "实际建筑面积（平方米）", "number"),
        ],
        [
            _mat("M-APPLICATION", "申请书", note="竣工验收申请表"),
            _mat("M-ID", "身份证"),
            _mat("M-PERMIT", "宅基地批准书和乡村建设规划许可证"),
            _mat("M-PHOTOS", "房屋竣工照片"),
            _mat("M-DESIGN", "建房设计图", required=False),
        ],
    ),
]

DEFAULT_CATALOGUE: dict[str, Any] = {"version": 1, "windows": WINDOWS, "items": _ITEMS}


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


def _validate_item(item: Any, index: int, window_codes: set[str]) -> list[str]:
    if not isinstance(item, dict):
        return [f"第{index + 1}个事项不是对象"]
    code = item.get("code")
    where = f"事项 {code}" if _nonblank(code) else f"第{index + 1}个事项"
    errors: list[str] = []
    if not _nonblank(code):
        errors.append(f"{where}缺少编码")
    if not _nonblank(item.get("name")):
        errors.append(f"{where}缺少名称")
    if item.get("kind") not in KINDS:
        errors.append(f"{where}的类别 {item.get('kind')!r} 无效")
    if item.get("window") not in window_codes:
        errors.append(f"{where}所属窗口 {item.get('window')!r} 不存在")
    if item.get("mode") not in MODES:
        errors.append(f"{where}的办件类型 {item.get('mode')!r} 无效")
    limit = item.get("time_limit_days")
    if not _is_int(limit):
        errors.append(f"{where}的办理时限必须是整数（工作日）")
    elif limit < 0:
        errors.append(f"{where}的办理时限不能为负数")
    if not isinstance(item.get("fee"), str):
        errors.append(f"{where}缺少收费标准")
    basis = item.get("legal_basis")
    if not isinstance(basis, list) or not basis or not all(_nonblank(b) for b in basis):
        errors.append(f"{where}缺少政策依据")
    if not isinstance(item.get("procedure"), str):
        errors.append(f"{where}缺少办理流程")
    # Optional guide texts (申办条件, 收费依据): absent means empty, so older catalogues stay valid.
    for key, label in GUIDE_TEXTS.items():
        if not isinstance(item.get(key, ""), str):
            errors.append(f"{where}的{label}必须是文字")
    if not isinstance(item.get("active"), bool):
        errors.append(f"{where}的启用状态必须是 true 或 false")

    fields = item.get("fields")
    if not isinstance(fields, list):
        errors.append(f"{where}的填报项必须是列表")
        fields = []
    keys: set[str] = set()
    for f in fields:
        if not isinstance(f, dict) or not _nonblank(f.get("key")) or not _nonblank(f.get("label")):
            errors.append(f"{where}有填报项缺少 key 或名称")
            continue
        if f["key"] in keys:
            errors.append(f"{where}的填报项 {f['key']} 重复")
        keys.add(f["key"])
        if f.get("type") not in FIELD_TYPES:
            errors.append(f"{where}的填报项 {f['key']} 类型 {f.get('type')!r} 无效")
        if not isinstance(f.get("required"), bool):
            errors.append(f"{where}的填报项 {f['key']} 必须注明是否必填")

    materials = item.get("materials")
    if not isinstance(materials, list) or not materials:
        errors.append(f"{where}没有列出申请材料")
        materials = []
    mcodes: set[str] = set()
    for m in materials:
        if not isinstance(m, dict) or not _nonblank(m.get("code")) or not _nonblank(m.get("name")):
            errors.append(f"{where}有申请材料缺少编码或名称")
            continue
        if m["code"] in mcodes:
            errors.append(f"{where}的申请材料 {m['code']} 重复")
        mcodes.add(m["code"])
        if not isinstance(m.get("required"), bool):
            errors.append(f"{where}的申请材料 {m['code']} 必须注明是否必需")
        if not isinstance(m.get("note", ""), str):
            errors.append(f"{where}的申请材料 {m['code']} 备注必须是文字")
    return errors


def validate_catalogue(data: Any) -> list[str]:
    """Return Chinese messages for every structural problem in a catalogue dict (empty if sound)."""
    if not isinstance(data, dict):
        return ["事项目录格式错误：必须是对象"]
    errors: list[str] = []
    version = data.get("version")
    if not _is_int(version) or version < 1:
        errors.append("事项目录版本号必须是正整数")

    windows = data.get("windows")
    window_codes: set[str] = set()
    if not isinstance(windows, list) or not windows:
        errors.append("事项目录没有窗口")
        windows = []
    for w in windows:
        if not isinstance(w, dict) or not _nonblank(w.get("code")) or not _nonblank(w.get("name")):
            errors.append("有窗口缺少编码或名称")
            continue
        if w["code"] in window_codes:
            errors.append(f"窗口编码 {w['code']} 重复")
        window_codes.add(w["code"])

    items = data.get("items")
    if not isinstance(items, list):
        errors.append("事项目录的事项必须是列表")
        items = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        errors.extend(_validate_item(item, i, window_codes))
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str):
            if code in seen:
                errors.append(f"事项编码 {code} 重复")
            seen.add(code)
    return errors


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

    @classmethod
    def default(cls) -> Catalogue:
        """Return the built-in starting catalogue."""
        return cls(DEFAULT_CATALOGUE)

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
            i
            for i in self._data["items"]
            if (kind is None or i["kind"] == kind) and (include_inactive or i["active"])
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
        return [m["code"] for m in self.materials(item_code) if m["required"]]

    def material_names(self, item_code: str, codes: list[str] | set[str]) -> list[str]:
        """Return the names of the given material codes in catalogue order, skipping unknown codes."""
        wanted = set(codes)
        return [m["name"] for m in self.materials(item_code) if m["code"] in wanted]

    def missing_materials(self, item_code: str, brought_codes: list[str] | set[str]) -> list[str]:
        """Return the codes of required materials not among those brought, in catalogue order."""
        brought = set(brought_codes)
        return [c for c in self.required_materials(item_code) if c not in brought]

    def to_dict(self) -> dict[str, Any]:
        """Return a deep copy of the underlying data, ready for JSON."""
        return copy.deepcopy(self._data)
