"""The one rule for spreadsheet cells: user text never starts a formula."""

from __future__ import annotations

from datetime import date

import pytest

from shared.spreadsheet import display_width, text_cell, text_row


@pytest.mark.parametrize(
    "hostile", ['=HYPERLINK("http://ev.il","a")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]
)
def test_formula_starts_are_quoted(hostile: str) -> None:
    assert text_cell(hostile) == "'" + hostile


def test_plain_values_pass_unchanged() -> None:
    assert text_row(["张三", 3, -1.5, date(2026, 1, 2), None, "a=b"]) == [
        "张三",
        3,
        -1.5,
        date(2026, 1, 2),
        None,
        "a=b",
    ]


def test_display_width_counts_chinese_as_two_columns() -> None:
    assert display_width("W05 民政") == 8
    assert display_width("100.0%") == 6
    assert display_width("（村）") == 6
