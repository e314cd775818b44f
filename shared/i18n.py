"""Languages for both apps: Simplified Chinese by default, English on request (a cookie set by a link)."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from babel import Locale
from flask import Blueprint, Flask, current_app, has_request_context, redirect, request, url_for
from flask_babel import Babel, get_locale, get_translations, gettext

from shared.msgid import Said, recognised
from shared.redirects import safe_next

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"
COOKIE = "lang"

log = logging.getLogger(__name__)
bp = Blueprint("i18n", __name__)


def check_catalogs(root: Path) -> None:
    """Warn when a catalogue was edited but not compiled: the .mo is built by `make setup`, not here."""
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            log.warning("%s is missing or older than its .po; run `make catalogues`", mo)


def select_locale() -> str:
    """The language chosen by the cookie, else Chinese (also outside a request: jobs, CLI)."""
    if not has_request_context():
        return DEFAULT
    cookies = request.cookies
    # Asked first: werkzeug answers a missing key's get() by raising and catching an HTTP exception.
    lang = cookies[COOKIE] if COOKIE in cookies else None
    return lang if lang in LANGUAGES else DEFAULT


@lru_cache(maxsize=len(LANGUAGES))
def _parsed(tag: str) -> Locale:
    return Locale.parse(tag)


def request_locale() -> Locale:
    """select_locale's language as Flask-Babel keeps it, parsed once per language, not per request."""
    return _parsed(select_locale())


# Per app (its Flask-Babel): the catalogue of each language, as Flask-Babel gives it.
_CATALOGUES: WeakKeyDictionary[Any, dict[Locale, Any]] = WeakKeyDictionary()


def request_translations() -> Any:
    """Flask-Babel's `get_translations()` for this request, found once per app and language.

    Flask-Babel finds the request's domain, locale and cached catalogue again on each call (its
    context, the locale's name formatted for the cache key): ~20 µs for one dictionary look-up.
    Flask-Babel keeps one catalogue per app and language for the app's life, as this does.
    """
    by_language = _CATALOGUES.get(current_app.extensions["babel"].instance)
    if by_language is None:
        by_language = _CATALOGUES.setdefault(current_app.extensions["babel"].instance, {})
    locale = request_locale()
    translations = by_language.get(locale)
    if translations is None:
        translations = by_language.setdefault(locale, get_translations())
    return translations


def tr(word: str | None) -> str:
    """Text marked with shared.msgid.N_ (a state, a level, a refusal...) in the page's language.

    A `Said` is said again from its template; its text parameters are translated too when they are
    marked words (a state's label), and shown as they are otherwise (names, data: not in a catalogue).
    A sentence kept only as Chinese (stored, or sent by the other side) is recognised by its template.
    """
    if not word:
        return word or ""
    if isinstance(word, Said):
        return gettext(word.template, **{k: tr(v) if isinstance(v, str) else v for k, v in word.params.items()})
    said = gettext(word)
    if said == word and str(get_locale()) != DEFAULT:
        again = recognised(word, get_translations())
        if again is not None:
            return tr(again)
    return said


def init_app(app: Flask, translations: Path, home_endpoint: str) -> None:
    """Register Flask-Babel (catalogues compiled at build time) and the language switch."""
    check_catalogs(translations)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(translations))
    app.config["DAIBAN_HOME_ENDPOINT"] = home_endpoint
    # One Babel per app: Flask-Babel caches catalogues on the instance, by locale only, so a shared
    # instance would serve the hub's English to the node when both run in one process (tests, demo).
    Babel(app, locale_selector=request_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_lang"] = select_locale
    app.jinja_env.filters["tr"] = tr
    app.register_blueprint(bp)


@bp.get("/lang/<code>")
def switch(code: str) -> Any:
    """Remember the language in a cookie and go back (a plain link: no script needed)."""
    resp = redirect(safe_next(request.args.get("next")) or url_for(current_app.config["DAIBAN_HOME_ENDPOINT"]))
    if code in LANGUAGES:
        resp.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return resp
