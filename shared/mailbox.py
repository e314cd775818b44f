"""镇长信箱: what a message to the township is, the same on the village node and on the hub.

A message is a consultation (咨询), complaint (投诉) or suggestion (建议). It gets its own receipt
code; the villager checks the reply with the code and a second factor: the last four digits of the
phone they left, or, with no phone, a four-digit PIN printed on their receipt.
"""

from __future__ import annotations

import secrets
import unicodedata
from typing import Any

from .msgid import N_
from .receipt_codes import is_valid, normalise
from .validation import FieldError, _check_text, normalise_mobile, validate_mobile

EVENT_TYPE = "message.left"  # node -> hub, declared in shared.protocol.NODE_EVENT_TYPES
REPLY_TYPE = "message.reply"  # hub -> node, in the village's downstream log
CATEGORIES: dict[str, str] = {"consult": N_("咨询"), "complaint": N_("投诉"), "suggestion": N_("建议")}
MAX_CONTENT = 1000
MAX_NAME = 30
MAX_ABOUT = 40
MAX_REPLY = 2000
DEFAULT_REPLY_DAYS = 5
# The hub's own messages (left on /mailbox) take this prefix; villages count up from the other end.
HUB_PREFIX = "ZZ"


def _content_error(value: Any) -> FieldError | None:
    if not isinstance(value, str) or not value.strip():
        return FieldError("content", "required", N_("请填写留言内容"))
    text = value.strip()
    if len(text) > MAX_CONTENT:
        return FieldError(
            "content", "too_long", N_("留言内容不能超过%(max)d个字（现有%(n)d个字）", max=MAX_CONTENT, n=len(text))
        )
    # Line breaks are welcome in a letter; other invisible control characters are not.
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text if c not in "\r\n\t"):
        return FieldError("content", "control_chars", N_("留言内容含有不可见的控制字符，请重新输入"))
    return None


def validate(data: dict[str, Any], window_codes: set[str] | frozenset[str] = frozenset()) -> list[FieldError]:
    """Every problem with a message as given, in Chinese (empty when it can be taken)."""
    errors: list[FieldError] = []
    # Values from a village batch may be any JSON: compare only strings, never hash a list.
    category, window = data.get("category"), data.get("window")
    if not isinstance(category, str) or category not in CATEGORIES:
        errors.append(FieldError("category", "category", N_("请选择留言类别：咨询、投诉或建议")))
    for err in (
        _content_error(data.get("content")),
        _check_text(data.get("name"), "name", N_("姓名"), MAX_NAME, required=False),
        _check_text(data.get("about"), "about", N_("被投诉的人员或窗口"), MAX_ABOUT, required=False),
    ):
        if err is not None:
            errors.append(err)
    phone = data.get("phone")
    if phone not in (None, ""):
        err = validate_mobile(phone)
        if err is not None:
            errors.append(err)
    if window not in (None, "") and (not isinstance(window, str) or window not in window_codes):
        errors.append(FieldError("window", "window", N_("所选窗口不存在")))
    return errors


def clean(data: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a valid message: trimmed texts, normalised phone, a PIN when no phone."""
    phone = normalise_mobile(data.get("phone") or "") if data.get("phone") else ""
    return {
        "category": data["category"],
        "content": data["content"].strip().replace("\r\n", "\n"),
        "name": (data.get("name") or "").strip(),
        "phone": phone,
        "about": (data.get("about") or "").strip(),
        "window": data.get("window") or "",
        "pin": "" if phone else new_pin(),
    }


def new_pin() -> str:
    """Four random digits printed on the receipt of a message left without a phone number."""
    return f"{secrets.randbelow(10_000):04d}"


def second_factor(phone: str, pin: str) -> str:
    """What the villager types next to the code: their phone's last four digits, else the PIN."""
    return phone[-4:] if phone else pin


def looks_like_code(text: str) -> bool:
    """True when the text is a well-formed receipt code (message or request)."""
    return is_valid(normalise(text))
