"""Both apps' web requests: a value holding U+0000 is refused before any view reads it."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

# The bodies request.form reads; any other (a node's JSON) is left unread here.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)


def refuse_nul() -> Response | None:
    """A 400 for a query, form or path value holding U+0000, else None.

    PostgreSQL's text cannot hold it (SQLite's can): at the hub a view querying with one failed
    there (a 500: the status lookup, the login). A node's form value travels to the hub in an
    event, and the hub refuses a batch holding one whole: the village's chain would stop there.
    """
    form = request.form if request.mimetype in FORM_TYPES else None
    view_args = (request.view_args or {}).values()
    if _query_holds_nul() or (form and _holds_nul(form)) or any("\x00" in str(v) for v in view_args):
        return Response(_("提交的内容含有不可见的控制字符，请重新输入"), 400, mimetype="text/plain")
    return None


def _query_holds_nul() -> bool:
    # Only "%00" (or a raw NUL) decodes to U+0000: a query string without either needs no scan (a GET lookup).
    query = request.environ.get("QUERY_STRING", "")
    return ("%00" in query or "\x00" in query) and _holds_nul(request.args)


def _holds_nul(values: MultiDict[str, str]) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))
