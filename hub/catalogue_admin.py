"""Catalogue and calendar admin: edit items, materials, windows and time limits; add holidays.

Every catalogue change is a new CatalogueVersion (version + 1); nodes receive it on their
next sync.  An edit that would leave open cases pointing at nothing (a removed or
deactivated item, a removed window, a removed material still on a 补正 list) is refused.
A changed time limit applies to requests received after it; open cases keep their deadline.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

import peewee
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from shared.catalogue import (
    GUIDE_TEXTS,
    ITEM_CODE,
    KIND_CODE,
    MODES,
    NAME_MAX,
    PUBLICITY_DAYS_MAX,
    WINDOW_CODE,
    Catalogue,
    validate_catalogue,
)

from . import audit
from .auth import current_user, login_required
from .catalogue_store import current as current_catalogue
from .clock import now
from .db import database
from .holidays import change_calendar, day_set
from .models import Case, CatalogueVersion
from .sweep import open_cases
from flask_babel import gettext as _

bp = Blueprint("catalogue_admin", __name__, url_prefix="/admin")

_YES = {"是", "必需", "必须", "y", "yes", "true", "1"}
_NO = {"否", "可选", "n", "no", "false", "0", ""}


class CatalogueEditError(ValueError):
    """An edit that cannot be saved; `errors` are sentences for the admin."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("；".join(errors))
        self.errors = errors


def open_usage() -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
    """Open cases per item, per window, and per (item, material still missing)."""
    items: Counter[str] = Counter()
    windows: Counter[str] = Counter()
    missing: Counter[tuple[str, str]] = Counter()
    for c in open_cases().select(Case.item_code, Case.window, Case.materials_missing):
        items[c.item_code] += 1
        windows[c.window] += 1
        for m in c.materials_missing or []:
            missing[(c.item_code, m)] += 1
    return items, windows, missing


def orphan_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why the new catalogue would orphan open cases (empty when it would not)."""
    items, windows, missing = open_usage()
    new_items = {i["code"]: i for i in new.get("items", []) if isinstance(i, dict) and "code" in i}
    new_windows = {w.get("code") for w in new.get("windows", []) if isinstance(w, dict)}
    problems = []
    for code, n in sorted(items.items()):
        item = new_items.get(code)
        if item is None:
            problems.append(_("事项 %(code)s 还有 %(n)s 件未办结，不能删除", code=code, n=n))
        elif item.get("active") is False:
            problems.append(_("事项 %(code)s 还有 %(n)s 件未办结，不能停用", code=code, n=n))
    for code, n in sorted(windows.items()):
        if code not in new_windows:
            problems.append(_("窗口 %(code)s 还有 %(n)s 件未办结，不能删除", code=code, n=n))
    for (item_code, mat), n in sorted(missing.items()):
        item = new_items.get(item_code)
        if item is not None and mat not in {m.get("code") for m in item.get("materials", []) if isinstance(m, dict)}:
            problems.append(
                _(
                    "材料 %(mat)s 仍在事项 %(item_code)s 的 %(n)s 件待补正清单中，不能删除",
                    mat=mat,
                    item_code=item_code,
                    n=n,
                )
            )
    return problems


def save_catalogue(new: dict[str, Any], actor: str, note: str, base_version: int) -> int:
    """Store `new` as the next version after base_version; CatalogueEditError leaves everything as it was."""
    with database.atomic():
        latest = CatalogueVersion.select().order_by(CatalogueVersion.version.desc()).get()
        if latest.version != base_version:
            raise CatalogueEditError(
                [_("目录已被他人修改（当前第 %(version)s 版），请刷新后重新编辑", version=latest.version)]
            )
        data = copy.deepcopy(new)
        data["version"] = latest.version + 1
        errors = validate_catalogue(data) + orphan_problems(latest.data, data)
        if not errors and data == {**latest.data, "version": data["version"]}:
            errors = [_("没有任何修改")]
        if errors:
            raise CatalogueEditError(errors)
        try:
            with database.atomic():
                CatalogueVersion.create(version=data["version"], data=data, created_at=now(), note=note[:500])
        except peewee.IntegrityError:
            raise CatalogueEditError([_("目录已被他人修改，请刷新后重新编辑")]) from None
        audit.record(actor, "catalogue.edit", f"v{data['version']}", {"note": note[:200], "from": latest.version})
    return int(data["version"])


def add_defaults(actor: str) -> tuple[int, list[str]]:
    """Add the shipped default kinds, windows and items the catalogue in force lacks, as a new version.

    What the township has (edited or not) is kept as it is; only codes it does not have are added,
    each new item marked 默认，待核对. A hub set up before the defaults covered every window gets them so.
    """
    cat = current_catalogue()
    new = cat.to_dict()
    have_kinds = {k["code"] for k in cat.kinds()}
    have_windows = {w["code"] for w in cat.windows()}
    have_items = {i["code"] for i in cat.items(include_inactive=True)}
    default = Catalogue.default()
    new["kinds"] = cat.kinds() + [k for k in default.kinds() if k["code"] not in have_kinds]
    new["windows"] = cat.windows() + [w for w in default.windows() if w["code"] not in have_windows]
    added = [i for i in default.items(include_inactive=True) if i["code"] not in have_items]
    new["items"] = new["items"] + added
    if not added and len(new["kinds"]) == len(have_kinds) and len(new["windows"]) == len(have_windows):
        raise CatalogueEditError([_("默认目录的类别、窗口和事项都已在目录中，无需补充")])
    codes = [i["code"] for i in added]
    version = save_catalogue(new, actor, f"补充默认事项 {'、'.join(codes)}"[:500], cat.version)
    return version, codes


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.replace("\r", "").split("\n") if ln.strip()]


def parse_materials(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Materials from lines "编码|名称|是否必需|备注"; returns (materials, errors)."""
    out, errors = [], []
    for n, line in enumerate(_lines(text), 1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or not parts[0] or not parts[1]:
            errors.append(_("材料第 %(n)s 行应写成：编码|名称|是否必需|备注", n=n))
            continue
        flag = (parts[2] if len(parts) > 2 else "是").lower()
        if flag not in _YES | _NO:
            errors.append(_("材料第 %(n)s 行的“是否必需”只能填 是 或 否", n=n))
            continue
        out.append(
            {
                "code": parts[0],
                "name": parts[1],
                "required": flag in _YES,
                "note": "|".join(parts[3:]) if len(parts) > 3 else "",
            }
        )
    return out, errors


def materials_text(materials: list[dict[str, Any]]) -> str:
    """The materials as editable lines."""
    return "\n".join(
        f"{m['code']}|{m['name']}|{'是' if m['required'] else '否'}|{m.get('note', '')}".rstrip("|") for m in materials
    )


def item_from_form(form: Any, existing: dict[str, Any] | None, cat: Catalogue) -> tuple[dict[str, Any], list[str]]:
    """An item dict from the edit form, keeping what the form does not edit (its fields).

    Saving an item is the township checking it: the default's `to_check` mark goes.
    """
    errors: list[str] = []
    item = copy.deepcopy(existing) if existing else {"fields": []}
    if existing is None:
        code = form.get("code", "").strip().upper()[:40]
        kinds = [k["code"] for k in cat.kinds()]
        if not ITEM_CODE.match(code):
            errors.append(_("事项编码应为两个大写字母（类别）、短横线和两位数字，例如 DB-04"))
        elif code[:2] not in kinds:
            errors.append(
                _(
                    "类别 %(kind)s 不存在：事项编码须以目录中的类别开头（%(kinds)s），"
                    "新类别请先在事项目录页“类别”中新增",
                    kind=code[:2],
                    kinds="、".join(kinds),
                )
            )
        item["code"], item["kind"] = code, code[:2]
    item["name"] = form.get("name", "").strip()
    item["window"] = form.get("window", "")
    item["mode"] = form.get("mode", "")
    raw_limit = form.get("time_limit_days", "").strip()
    if not re.fullmatch(r"\d{1,3}", raw_limit):
        errors.append(_("办理时限须为 0 到 999 的整数（工作日）"))
    else:
        item["time_limit_days"] = int(raw_limit)
    if item["mode"] == "immediate" and item.get("time_limit_days") not in (None, 0):
        errors.append(_("即办件的办理时限应为 0（当日办结）"))
    item["fee"] = form.get("fee", "").strip() or "免费"
    item["procedure"] = form.get("procedure", "").strip()
    item["legal_basis"] = _lines(form.get("legal_basis", ""))
    item["active"] = form.get("active") == "on"
    item["county_approval"] = form.get("county_approval") == "on"
    item["to_check"] = False
    raw_days = form.get("publicity_days", "0").strip() or "0"
    if not re.fullmatch(r"\d{1,2}", raw_days) or int(raw_days) > PUBLICITY_DAYS_MAX:
        errors.append(_("公示天数须为 0 到 %(max)s 的整数", max=PUBLICITY_DAYS_MAX))
    else:
        item["publicity_days"] = int(raw_days)
    for key in GUIDE_TEXTS:
        if key in form:
            item[key] = form.get(key, "").strip()[:2000]
    materials, mat_errors = parse_materials(form.get("materials", ""))
    item["materials"] = materials
    return item, errors + mat_errors


def _user() -> str:
    user = current_user()
    return user.username if user else "?"


@bp.get("/catalogue")
@login_required("admin")
def index() -> Any:
    """Windows, items with their open cases, and the version history."""
    cat = current_catalogue()
    items, windows, _usage = open_usage()
    history = (
        CatalogueVersion.select(CatalogueVersion.version, CatalogueVersion.created_at, CatalogueVersion.note)
        .order_by(CatalogueVersion.version.desc())
        .limit(20)
    )
    return render_template(
        "admin/catalogue.html", cat=cat, open_items=items, open_windows=windows, history=list(history), modes=MODES
    )


def _item_page(
    item: dict[str, Any], is_new: bool, errors: list[str] | None = None, status: int = 200, form: Any = None
) -> Any:
    cat = current_catalogue()
    return render_template(
        "admin/item.html",
        item=item,
        is_new=is_new,
        errors=errors or [],
        cat=cat,
        modes=MODES,
        kinds=cat.kinds(),
        version=cat.version,
        form=form,
        materials=form.get("materials") if form else materials_text(item.get("materials", [])),
    ), status


@bp.route("/catalogue/item/<code>", methods=["GET", "POST"])
@login_required("admin")
def edit_item(code: str) -> Any:
    """Edit one item (or create one when code is "new")."""
    cat = current_catalogue()
    is_new = code == "new"
    existing = None if is_new else cat.item(code)
    if not is_new and existing is None:
        abort(404)
    if request.method == "GET":
        return _item_page(
            existing
            or {
                "code": "",
                "active": True,
                "mode": "processed",
                "time_limit_days": 20,
                "legal_basis": [],
                "materials": [],
                "fee": "免费",
                "procedure": "",
            },
            is_new,
        )
    item, errors = item_from_form(request.form, existing, cat)
    new = cat.to_dict()
    if is_new:
        if cat.item(item.get("code", "")) is not None:
            errors.append(_("事项编码 %(code)s 已存在", code=item["code"]))
        new["items"].append(item)
    else:
        new["items"] = [item if i["code"] == code else i for i in new["items"]]
    return _save_or_refuse(
        new,
        errors,
        f"{'新增' if is_new else '修改'}事项 {item.get('code')}",
        lambda errs: _item_page(item, is_new, errs, 400, request.form),
    )


@bp.post("/catalogue/windows")
@login_required("admin")
def edit_windows() -> Any:
    """Rename, add or remove windows."""
    cat = current_catalogue()
    errors: list[str] = []
    windows = []
    for w in cat.windows():
        if request.form.get(f"remove_{w['code']}") == "on":
            continue
        windows.append({"code": w["code"], "name": request.form.get(f"name_{w['code']}", w["name"]).strip()})
    new_code = request.form.get("new_code", "").strip().upper()
    new_name = request.form.get("new_name", "").strip()
    if new_code or new_name:
        if not WINDOW_CODE.match(new_code):
            errors.append(_("窗口编码应为 W 加两位数字，例如 W15"))
        elif cat.window(new_code):
            errors.append(_("窗口编码 %(new_code)s 已存在", new_code=new_code))
        windows.append({"code": new_code, "name": new_name})
    new = cat.to_dict()
    new["windows"] = windows
    return _save_or_refuse(new, errors, "修改窗口", lambda errs: _refused_index(errs))


@bp.post("/catalogue/kinds")
@login_required("admin")
def edit_kinds() -> Any:
    """Rename or add request kinds (类别); a kind still used by an item cannot go (validation says which)."""
    cat = current_catalogue()
    errors: list[str] = []
    kinds = []
    for k in cat.kinds():
        if request.form.get(f"remove_{k['code']}") == "on":
            continue
        kinds.append({"code": k["code"], "name": request.form.get(f"kind_{k['code']}", k["name"]).strip()[:NAME_MAX]})
    new_code = request.form.get("new_kind_code", "").strip().upper()[:40]
    new_name = request.form.get("new_kind_name", "").strip()[:NAME_MAX]
    if new_code or new_name:
        if not KIND_CODE.match(new_code):
            errors.append(_("类别编码应为两个大写字母，例如 LQ"))
        elif any(k["code"] == new_code for k in kinds):
            errors.append(_("类别编码 %(code)s 已存在", code=new_code))
        elif not new_name:
            errors.append(_("请填写新类别的名称"))
        kinds.append({"code": new_code, "name": new_name})
    new = cat.to_dict()
    new["kinds"] = kinds
    return _save_or_refuse(new, errors, "修改类别", lambda errs: _refused_index(errs))


@bp.post("/catalogue/defaults")
@login_required("admin")
def defaults() -> Any:
    """Add the shipped default items (and their kinds and windows) the catalogue lacks."""
    try:
        version, codes = add_defaults(_user())
    except CatalogueEditError as exc:
        audit.record(_user(), "catalogue.refused", "补充默认事项", {"errors": exc.errors[:10]})
        return _refused_index(exc.errors)
    flash(
        _(
            "已保存：事项目录第 %(version)s 版，补充默认事项 %(count)s 个（请逐项核对）",
            version=version,
            count=len(codes),
        )
    )
    return redirect(url_for("catalogue_admin.index"))


def _refused_index(errors: list[str]) -> Any:
    cat = current_catalogue()
    items, windows, _usage = open_usage()
    history = CatalogueVersion.select().order_by(CatalogueVersion.version.desc()).limit(20)
    return render_template(
        "admin/catalogue.html",
        cat=cat,
        open_items=items,
        open_windows=windows,
        history=list(history),
        modes=MODES,
        errors=errors,
    ), 400


def _save_or_refuse(new: dict[str, Any], errors: list[str], note: str, refused: Any) -> Any:
    base = request.form.get("base_version", "")
    if not base.isdigit():
        errors = [_("表单缺少目录版本号，请刷新后重新编辑"), *errors]
    if not errors:
        try:
            version = save_catalogue(new, _user(), note, int(base))
        except CatalogueEditError as exc:
            errors = exc.errors
        else:
            flash(_("已保存：事项目录第 %(version)s 版，代办点下次同步时自动更新", version=version))
            return redirect(url_for("catalogue_admin.index"))
    audit.record(_user(), "catalogue.refused", note[:120], {"errors": errors[:10]})
    return refused(errors)


@bp.route("/holidays", methods=["GET", "POST"])
@login_required("admin")
def holidays() -> Any:
    """Extra holidays and make-up working days for years the statutory calendar package does not know."""
    error, status = None, 200
    if request.method == "POST":
        try:
            flash(
                change_calendar(
                    request.form.get("day", ""), request.form.get("kind", ""), request.form.get("op", "add"), _user()
                )
            )
            return redirect(url_for("catalogue_admin.holidays"))
        except ValueError as exc:
            error, status = str(exc), 400
    return render_template(
        "admin/holidays.html",
        holidays=sorted(day_set("extra_holidays")),
        workdays=sorted(day_set("extra_workdays")),
        error=error,
    ), status
