"""The service guide (办事指南 / 服务指南) of one catalogue item, as the hub and every node print it.

One view of an item (`guide_view`) and one poster template (shared/templates/guide_poster.html)
serve the hub's public /guide pages and the village node's offline print, so the notice board
and the township's web page always say the same thing for the same catalogue version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from .catalogue import GUIDE_TEXTS, MODES, Catalogue

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
# Shown where a township has not yet written the optional texts, rather than an empty box.
NOT_GIVEN = "请向办理窗口咨询"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def where_to_apply(item: dict[str, Any], window_name: str) -> str:
    """Where a villager hands in the application: the village point, or the centre's window."""
    return f"本村村级代办点（代办员免费代办），或乡镇政务服务中心{window_name}窗口"


def time_limit_text(item: dict[str, Any]) -> str:
    """The time limit as the guide states it."""
    days = int(item["time_limit_days"])
    if days == 0:
        return "即时办结（当场办理）"
    return f"{days}个工作日（自受理之日起计算，补正材料期间不计入）"


def guide_view(catalogue: Catalogue, item: dict[str, Any]) -> dict[str, Any]:
    """Everything the guide prints for one item, as plain values (no personal data exists here)."""
    window = catalogue.window_name(item["window"])
    texts = {key: (item.get(key) or "").strip() for key in GUIDE_TEXTS}
    return {
        "code": item["code"],
        "name": item["name"],
        "window": window,
        "window_code": item["window"],
        "mode": MODES.get(item["mode"], item["mode"]),
        "time_limit": time_limit_text(item),
        "conditions": texts["conditions"] or NOT_GIVEN,
        "materials": [
            {"name": m["name"], "required": m["required"], "note": m.get("note", "")} for m in item["materials"]
        ],
        "procedure": [step.strip() for step in item["procedure"].split("→") if step.strip()],
        "fee": item["fee"] or "免费",
        "fee_basis": texts["fee_basis"],
        "legal_basis": list(item["legal_basis"]),
        "where": where_to_apply(item, window),
        "catalogue_version": catalogue.version,
    }


def by_window(catalogue: Catalogue) -> list[tuple[dict[str, str], list[dict[str, Any]]]]:
    """Active items grouped by their responsible window, windows in catalogue order, empty ones left out."""
    out = []
    for w in catalogue.windows():
        items = [guide_view(catalogue, i) for i in catalogue.items() if i["window"] == w["code"]]
        if items:
            out.append((w, items))
    return out


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code for the url (no script, no style attribute, so the strict CSP allows it)."""
    import segno  # ~1 MB: loaded when a guide with a code is first drawn

    # segno escapes the title and draws only paths: its output is markup we made, not input.
    return Markup(segno.make(url, error="m").svg_inline(scale=3, title=url))  # nosec B704


def poster(view: dict[str, Any], url: str | None) -> Markup:
    """The A4 poster (服务指南) of one item as HTML, with a QR code to its public page when the url is known."""
    template = _env.get_template("guide_poster.html")
    # Rendered by an autoescaping environment: every catalogue text in it is already escaped.
    return Markup(template.render(g=view, url=url, qr=qr_svg(url) if url else None))  # nosec B704
