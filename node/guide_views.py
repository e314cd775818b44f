"""The service guide printed at the village from the catalogue this node holds: works with no network.

The poster is the hub's own (shared.guide), so the notice board shows what /guide on the hub shows
for the same catalogue version; the QR code points at the hub's public page when the hub is known.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from shared import guide

from . import meta
from .auth import login_required
from .capture import catalogue
from flask_babel import gettext as _

bp = Blueprint("guide", __name__, static_folder=str(guide.STATIC), static_url_path="/guide-static")


def hub_guide_url(code: str) -> str | None:
    """The hub's public guide page for an item, or None before enrolment (no QR then)."""
    hub = (meta.get("hub_url") or "").rstrip("/")
    return f"{hub}/guide/{code}" if hub else None


@bp.get("/guide")
@login_required
def index() -> Any:
    """Every active item of the synced catalogue, by window, each with its poster link."""
    cat = catalogue()
    return render_template("guide_index.html", groups=guide.by_window(cat), version=cat.version)


@bp.get("/guide/print")
@login_required
def print_all() -> Any:
    """All posters, one A4 page each."""
    cat = catalogue()
    posters = [guide.poster(guide.guide_view(cat, i), hub_guide_url(i["code"])) for i in cat.items()]
    return render_template("guide_print.html", posters=posters)


@bp.get("/guide/<code>")
@login_required
def item(code: str) -> Any:
    """One item's poster (服务指南) for the notice board."""
    cat = catalogue()
    found = cat.item(code.strip().upper()[:16])
    if found is None or not found["active"]:
        return render_template("error.html", title=_("没有找到"), message=_("目录中没有这个办理事项。")), 404
    return render_template(
        "guide_print.html", posters=[guide.poster(guide.guide_view(cat, found), hub_guide_url(found["code"]))]
    )
