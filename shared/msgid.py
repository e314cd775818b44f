"""Mark Chinese text for the translation catalogues where it is defined, without translating it there.

Labels of states, modes, levels and the like stay Chinese in data, logs and the protocol; the pages
translate them where they are shown (`|tr` in templates, `shared.i18n.tr` in views).

Refusals and field errors are marked the same way. One with parameters is a `Said`: a str whose value
is the Chinese sentence (so what is audited, stored or sent to a village stays Chinese) that also
remembers its msgid and parameters, so `tr` can say it again in the page's language.
"""

from __future__ import annotations

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


def N_(message: str, **params: Any) -> str:
    """The Chinese text, marked for extraction; with parameters, a `Said` that remembers them."""
    return Said(message, params) if params else message


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


def listed(names: list[str]) -> str:
    """Names listed in a sentence (材料A、材料B), with the list mark of the page's language."""
    return _series(list(names), COMMA)
