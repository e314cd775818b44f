"""The township centre's phone number and address, printed on every receipt.

Set at the village point (`daiban node centre --phone … --address …`, stored in Meta) rather
than sent by the hub: a receipt must carry them from the first day, before the first sync, and
the clerk who installs the node has them on the enrolment sheet. Checked before they are stored.
"""

from __future__ import annotations

import re

from shared.validation import ADDRESS_MAX

from . import meta

# A landline with area code (0731-8888 6666), a mobile, or a hotline (12345): digits, spaces, hyphens.
PHONE = re.compile(r"^[0-9][0-9 \-]{3,18}[0-9]$")
PHONE_KEY, ADDRESS_KEY = "centre_phone", "centre_address"


class CentreError(ValueError):
    """A phone number or address that cannot be printed as given (message in Chinese)."""


def check(phone: str, address: str) -> tuple[str, str]:
    """The values cleaned, or CentreError saying which is wrong."""
    phone, address = " ".join(phone.split()), " ".join(address.split())
    if not PHONE.fullmatch(phone):
        raise CentreError("中心电话只能由数字、空格和连字符组成（5 至 20 位），如 0731-8888 6666")
    if not 2 <= len(address) <= ADDRESS_MAX or any(not c.isprintable() for c in address):
        raise CentreError(f"中心地址应为 2 至 {ADDRESS_MAX} 个字")
    return phone, address


def set_contact(phone: str, address: str) -> tuple[str, str]:
    """Check and store (call inside the caller's transaction)."""
    phone, address = check(phone, address)
    meta.put(PHONE_KEY, phone)
    meta.put(ADDRESS_KEY, address)
    return phone, address


def contact() -> dict[str, str]:
    """{"phone", "address"}: empty strings when not set yet."""
    return {"phone": meta.get(PHONE_KEY) or "", "address": meta.get(ADDRESS_KEY) or ""}
