"""One name for each thing (issue 15): the receipt code is 回执码 and the village clerk is 代办员, everywhere.

收件编号 and 受理编号 were two more names for the 回执码, and 文书 (a document, in Chinese) was used for
the clerk; a villager reading the receipt, the status page and a notice must meet one word for each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OTHER_NAMES = {"收件编号": "回执码", "受理编号": "回执码", "文书": "代办员（人）或通知书（纸）"}


def _sources() -> list[Path]:
    found = []
    for app in ("hub", "node", "shared"):
        for path in sorted((ROOT / app).rglob("*")):
            if path.suffix in (".html", ".py", ".txt") and "translations" not in path.parts:
                found.append(path)
    return found


def test_the_sources_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"hub/templates/public/status.html", "node/templates/receipt.html", "shared/papers.py"} <= names


@pytest.mark.parametrize("word", sorted(OTHER_NAMES))
def test_no_template_or_message_uses_another_name(word: str) -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _sources()
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if word in line
    ]
    assert not offenders, f"“{word}” is written {OTHER_NAMES[word]}: {offenders}"


def test_the_receipt_and_the_status_page_say_the_one_name() -> None:
    assert "回执码" in (ROOT / "hub/templates/public/status.html").read_text(encoding="utf-8")
    assert "代办员" in (ROOT / "node/templates/base.html").read_text(encoding="utf-8")
