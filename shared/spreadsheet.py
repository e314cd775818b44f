"""Cells for spreadsheets we hand out (xlsx and csv): user data is always text, never a formula.

A name synced from a village such as ``=HYPERLINK("http://ev.il","a")`` would run as a formula
when staff open the export in Excel or WPS. OWASP's CSV-injection advice: a cell that starts
with ``= + - @`` or a tab or carriage return gets a leading single quote, so the sheet program
shows it as text. Numbers and dates are left as they are: they cannot carry a formula.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: Any) -> Any:
    """The value as a spreadsheet may hold it: strings that could start a formula are quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def text_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through text_cell."""
    return [text_cell(v) for v in values]


def display_width(text: str) -> int:
    """How many narrow columns text takes in a sheet or a terminal (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
