"""Languages for both apps: Simplified Chinese by default, English on request (a cookie set by a link)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask_babel import Babel

from shared.redirects import safe_next

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"
COOKIE = "lang"

bp = Blueprint("i18n", __name__)
babel = Babel()


def compile_catalogs(root: Path) -> None:
    """Build each .mo from its .po when missing or older, so a fresh clone works without a build step."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as f:
                catalog = read_po(f)
            tmp = mo.with_suffix(".mo.tmp")
            with tmp.open("wb") as f:
                write_mo(f, catalog)
            tmp.replace(mo)
        except OSError:
            pass  # a read-only install ships its .mo files


def select_locale() -> str:
    """The language chosen by the cookie, else Chinese."""
    lang = request.cookies.get(COOKIE)
    return lang if lang in LANGUAGES else DEFAULT


def init_app(app: Flask, translations: Path, home_endpoint: str) -> None:
    """Compile the app's catalogs if needed and register Flask-Babel and the language switch."""
    compile_catalogs(translations)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(translations))
    app.config["DAIBAN_HOME_ENDPOINT"] = home_endpoint
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_lang"] = select_locale
    app.register_blueprint(bp)


@bp.get("/lang/<code>")
def switch(code: str) -> Any:
    """Remember the language in a cookie and go back (a plain link: no script needed)."""
    resp = redirect(safe_next(request.args.get("next")) or url_for(current_app.config["DAIBAN_HOME_ENDPOINT"]))
    if code in LANGUAGES:
        resp.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return resp
