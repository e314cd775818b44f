"""The status page's phrases read from a dict (hub.public_status.PagePhrases) say what Jinja's gettext says."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import DictLoader, Environment

from hub.public_status import PHRASED_TEMPLATES, PHRASES_NAME, PagePhrases, Phrases

PAGE = next(iter(PHRASED_TEMPLATES))
SOURCE = (
    "<h1>{{ _('标题') }}</h1><p>{{ _('百分之%%十') }}</p><p>{{ _('<b>粗</b> & 细') }}</p>"
    "<p>{{ _('共 %(n)s 件', n=count) }}</p><p>{{ obj._('标题') }}</p><p>{{ _(word) }}</p>"
)
CATALOGUE = {
    "标题": "Title",
    "百分之%%十": "ten %%",
    "<b>粗</b> & 细": "<b>bold</b> & thin",
    "共 %(n)s 件": "%(n)s <cases>",
}


def say(text: str) -> str:
    return CATALOGUE.get(text, text)


class Obj:
    """A value whose own method is named `_`: never taken for the page's phrases."""

    def _(self, text: str) -> str:
        return f"own {text}"


def rendered(env: Environment, name: str, **context: Any) -> str:
    return env.get_template(name).render(count="<3>", obj=Obj(), word="标题", **context)


def jinja_gettext() -> Environment:
    """Jinja's own i18n extension, newstyle (as Flask-Babel installs it): what the page must match."""
    env = Environment(loader=DictLoader({PAGE: SOURCE}), autoescape=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(say, lambda s, p, n: s if n == 1 else p, newstyle=True)  # type: ignore[attr-defined]
    return env


def phrased(names: dict[str, str]) -> Environment:
    return Environment(loader=DictLoader(names), autoescape=True, extensions=[PagePhrases])


def page_context() -> dict[str, Any]:
    from markupsafe import Markup

    def gettext(text: str, **values: Any) -> str:  # the page's `_` for phrases with values
        return Markup(say(text)) % values  # nosec B704 - a test catalogue

    return {"_": gettext, PHRASES_NAME: Phrases(say)}


def test_phrases_say_what_jinjas_newstyle_gettext_says() -> None:
    expected = rendered(jinja_gettext(), PAGE)
    assert "<h1>Title</h1>" in expected
    assert "ten %" in expected
    assert "&lt;cases&gt;" not in expected
    assert rendered(phrased({PAGE: SOURCE}), PAGE, **page_context()) == expected


def test_only_a_literal_alone_is_read_from_the_phrases_and_only_in_the_phrased_templates() -> None:
    env = phrased({PAGE: SOURCE, "other.html": SOURCE})
    page = env.compile(SOURCE, PAGE, raw=True)
    assert page.count(f"l_0_{PHRASES_NAME}") >= 3
    assert "'共 %(n)s 件'" in page
    assert "context.call" in page
    assert "own 标题" in rendered(env, PAGE, **page_context())  # obj._('…') is the object's own
    assert PHRASES_NAME not in env.compile(SOURCE, "other.html", raw=True)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_a_catalogues_phrases_are_said_once(hub_app, language: str) -> None:
    from hub.public_status import _SHOWN

    client = hub_app.test_client()
    client.set_cookie("lang", language)
    assert client.get("/status").status_code == 200
    kept = [p for p in _SHOWN.values() if "办理进度查询" in p]
    assert kept, "the page's phrases were not read from a kept Phrases"
    title = "办理进度查询" if language == "zh_CN" else "Check progress"
    assert any(p["办理进度查询"] == title for p in kept)
