"""Finding a case on the console: by receipt code, name, ID number or its last four, phone.

Staff find only cases of the windows they may see (queue.visible_windows, the queue's own rule);
a case of another window is not there for them, exactly as its page is a 404.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask_babel import gettext as _
from flask import Blueprint, render_template, request

from shared.receipt_codes import ALPHABET, LONG_CODE_LEN, is_valid as valid_code, normalise as normalise_code
from shared.validation import normalise_id_number, normalise_mobile

from . import audit, deadlines, queue
from .auth import current_user, login_required
from .catalogue_store import current as current_catalogue
from .clock import today
from .models import Case, Staff

bp = Blueprint("search", __name__)

QUERY_MAX = 40
LIMIT = 100
_ID_TAIL = re.compile(r"[0-9]{3}[0-9X]")
_ID_FULL = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_CODE_CHARS = set(ALPHABET)
# Characters LIKE treats specially never occur in a name: dropped rather than escaped.
_LIKE_SPECIAL = str.maketrans("", "", "%_\\")


class SearchError(ValueError):
    """A query that cannot be searched, with the sentence staff read."""


def kinds_of(text: str) -> list[str]:
    """What the query may be: code, id, id_tail, phone, name (several at once when ambiguous)."""
    code = normalise_code(text)
    ident = normalise_id_number(unicodedata.normalize("NFKC", text))
    found = []
    if 3 <= len(code) <= LONG_CODE_LEN and set(code) <= _CODE_CHARS:
        found.append("code")
    if _ID_FULL.fullmatch(ident):
        found.append("id")
    if _ID_TAIL.fullmatch(ident):
        found.append("id_tail")
    if _MOBILE.fullmatch(normalise_mobile(text)):
        found.append("phone")
    if not any(c.isdigit() for c in text):
        found.append("name")
    return found


def find(user: Staff, text: str) -> list[Case]:
    """The cases matching the query that this person may see, newest first (at most LIMIT)."""
    text = (text or "").strip()
    if not text:
        return []
    if len(text) > QUERY_MAX:
        raise SearchError(_("查询内容不能超过%(n)s个字", n=QUERY_MAX))
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise SearchError(_("查询内容含有不可见的控制字符，请重新输入"))
    conditions = []
    for kind in kinds_of(text):
        if kind == "code":
            code = normalise_code(text)
            conditions.append(
                # A whole code (9 or 10 symbols) by the index; anything shorter as the start of codes.
                Case.receipt_code == code if valid_code(code) else Case.receipt_code.startswith(code)
            )
        elif kind == "id":
            conditions.append(Case.id_number == normalise_id_number(text))
        elif kind == "id_tail":
            conditions.append(Case.id_number.endswith(normalise_id_number(text)))
        elif kind == "phone":
            conditions.append(Case.phone == normalise_mobile(text))
        elif kind == "name":
            name = text.translate(_LIKE_SPECIAL)
            if name:
                conditions.append(Case.applicant_name.contains(name))
    if not conditions:
        raise SearchError(_("请输入回执码、姓名、身份证号码（或后4位）或手机号码"))
    matched = conditions[0]
    for cond in conditions[1:]:
        matched = matched | cond
    windows = queue.visible_windows(user, current_catalogue())
    return list(Case.select().where(matched & Case.window.in_(windows)).order_by(Case.received_at.desc()).limit(LIMIT))


@bp.get("/console/search")
@login_required()
def page() -> Any:
    """The search box and what it found, as queue lines."""
    user = current_user()
    assert user is not None  # login_required
    text = request.args.get("q", "")
    error, found, status = None, [], 200
    try:
        found = find(user, text)
    except SearchError as exc:
        error, status = str(exc), 400
    if text.strip() and error is None:
        # Who looked people up, and how many they found; the query itself (personal data) is not kept.
        audit.record(user.username, "case.search", "-", {"kinds": kinds_of(text.strip()), "found": len(found)})
    catalogue = current_catalogue()
    lines = queue.rows(found, catalogue, deadlines.calendar(), today(), queue.staff_names())
    return render_template(
        "console/search.html", q=text[: QUERY_MAX * 2], lines=lines, error=error, searched=bool(text.strip())
    ), status
