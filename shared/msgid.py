"""Mark Chinese text for the translation catalogues where it is defined, without translating it there.

Labels of states, modes, levels and the like stay Chinese in data, logs and the protocol; the pages
translate them where they are shown (`|tr` in templates, `shared.i18n.tr` in views).

Refusals and field errors are marked the same way. One with parameters is a `Said`: a str whose value
is the Chinese sentence (so what is audited, stored or sent to a village stays Chinese) that also
remembers its msgid and parameters, so `tr` can say it again in the page's language.
"""

from __future__ import annotations

import re
from typing import Any


class Said(str):
    """A Chinese sentence built from a marked template and its parameters (see the module docstring)."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: dict[str, Any]) -> Said:
        said = super().__new__(cls, template % params)
        said.template, said.params = template, params
        return said

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle (flashes, caches)
        return Said, (self.template, self.params)


def N_(message: str, /, **params: Any) -> str:
    """The Chinese text, marked for extraction; with parameters, a `Said` that remembers them."""
    return Said(message, params) if params else message


def as_marked(message: str, /, **params: Any) -> str:
    """The Chinese itself: the `say` of text made for a reader whose language is not known (a gettext
    that translates nothing)."""
    return message % params if params else message


SEPARATOR = N_("；")
COMMA = N_("、")


def _series(parts: list[str], sep: str) -> str:
    if len(parts) == 1:
        return parts[0]
    params: dict[str, Any] = {"sep": sep}
    params.update((f"s{i}", s) for i, s in enumerate(parts))
    return Said("%(sep)s".join(f"%(s{i})s" for i in range(len(parts))), params)


def joined(sentences: list[str]) -> str:
    """Several sentences shown as one (all a form's errors), each said again in the page's language."""
    return _series(list(sentences), SEPARATOR)


def concatenated(parts: list[str]) -> str:
    """Sentences said one after another (a summary with optional clauses), each in the page's language."""
    return _series(list(parts), "")


def listed(names: list[str]) -> str:
    """Names listed in a sentence (材料A、材料B), with the list mark of the page's language."""
    return _series(list(names), COMMA)


_PARAM = re.compile(r"%\((\w+)\)s")
_WORDS = re.compile(r"[\u4e00-\u9fff]")
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_patterns: dict[int, tuple[Any, list[tuple[re.Pattern[str], str]]]] = {}


def _templates(translations: Any) -> list[tuple[re.Pattern[str], str]]:
    """Each parametrised msgid of a catalogue as a pattern that matches the Chinese it makes."""
    held = _patterns.get(id(translations))
    if held is not None and held[0] is translations:
        return held[1]
    found = []
    for msgid in getattr(translations, "_catalog", {}):
        # Only a template with words of its own: "%(a)s（%(b)s）" would explain any sentence with brackets.
        if not isinstance(msgid, str) or "%(" not in msgid or not _WORDS.search(_PARAM.sub("", msgid)):
            continue
        parts = _PARAM.split(msgid)  # text, name, text, name, ..., text
        names = parts[1::2]
        if len(set(names)) != len(names):
            continue
        body = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        found.append((re.compile(body, re.DOTALL), msgid))
    # Longest first: a template with more fixed words is the better explanation of a sentence.
    found.sort(key=lambda pair: -len(_PARAM.sub("", pair[1])))
    _patterns[id(translations)] = (translations, found)
    return found


def recognised(text: str, translations: Any) -> Said | None:
    """The marked sentence a stored Chinese text was made from, with its parameters, or None.

    What is stored or received keeps only the Chinese (a sync error in the node's meta, a refusal the
    hub sent): to say it again in another language, the catalogue's templates are matched against it.
    """
    if not _CJK.search(text):
        return None
    for pattern, msgid in _templates(translations):
        m = pattern.fullmatch(text)
        if m:
            return Said(msgid, m.groupdict())
    return None
