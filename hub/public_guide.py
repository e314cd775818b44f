"""The public service guide (办事指南): /guide lists every active item by window, /guide/<code> is one
item's poster with a QR code to itself, /guide/print is every poster, one A4 page each.

No login, no JavaScript, no personal data: only the catalogue, which is public by nature (政务公开).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)

from shared import guide

from .catalogue_store import current as current_catalogue
from flask_babel import gettext as _

bp = Blueprint("public_guide", __name__, static_folder=str(guide.STATIC), static_url_path="/guide-static")


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute address villagers reach, from PUBLIC_URL when the hub sits behind a proxy."""
    base = current_app.config.get("PUBLIC_URL") or request.url_root
    return str(base).rstrip("/") + url_for(endpoint, **values)


def _cached(html: str, status: int = 200) -> Any:
    resp = make_response(html, status)
    # Catalogue pages change only when an admin saves a new version: a short cache spares weak links.
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/guide")
def index() -> Any:
    """Every active item, grouped by its responsible window, with its full guide."""
    cat = current_catalogue()
    return _cached(render_template("public/guide.html", groups=guide.by_window(cat), version=cat.version))


@bp.get("/guide/print")
def print_all() -> Any:
    """Every active item's poster, one A4 page each, for the notice board and the window desks."""
    cat = current_catalogue()
    posters = [
        guide.poster(guide.guide_view(cat, i), public_url("public_guide.item", code=i["code"])) for i in cat.items()
    ]
    return _cached(render_template("public/guide_item.html", posters=posters, title=_("服务指南（全部事项）")))


@bp.get("/guide/<code>")
def item(code: str) -> Any:
    """One item's poster (服务指南) with a QR code to this page."""
    cat = current_catalogue()
    found = cat.item(code.strip().upper()[:16])
    if found is None or not found["active"]:
        html = render_template(
            "public/guide_item.html",
            posters=[],
            title=_("没有这个事项"),
            message=_("没有找到这个办理事项，请查看全部办事指南。"),
        )
        return _cached(html, 404)
    view = guide.guide_view(cat, found)
    return _cached(
        render_template(
            "public/guide_item.html",
            title=_("%(name)s 服务指南", name=found["name"]),
            posters=[guide.poster(view, public_url("public_guide.item", code=found["code"]))],
        )
    )
