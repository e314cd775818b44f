"""Bar and line charts drawn on the server as SVG: no JavaScript, no CDN, no inline CSS.

Only SVG presentation attributes are used (fill, stroke, font-size), which the hub's
Content-Security-Policy allows, unlike style attributes.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

from flask_babel import gettext as _
from markupsafe import Markup

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 40, 56
COLOURS = ("#8b1a1a", "#2e6f9e", "#d98c00", "#3c8d40")
FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


def _nice_max(value: float) -> float:
    """A round top for the value axis (1, 2, 5 × 10ⁿ) so gridlines read cleanly."""
    if value <= 0:
        return 1
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _divisions(top: float) -> int:
    """How many gridline steps, so that each step is a whole number where possible."""
    return next((n for n in (4, 5, 2, 1) if float(top / n).is_integer()), 4)


def _frame(title: str, top: float, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    steps = _divisions(top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold" {FONT}>{escape(title)}</text>',
    ]
    for i in range(steps + 1):
        value = top * i / steps
        y = TOP + plot_h - plot_h * i / steps
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" {FONT}>'
            f"{_fmt(value)}{escape(unit)}</text>"
        )
    return parts


def _x_label(x: float, label: str) -> str:
    y = HEIGHT - BOTTOM + 14
    return (
        f'<text x="{x:.1f}" y="{y}" font-size="10" text-anchor="end" {FONT} '
        f'transform="rotate(-30 {x:.1f} {y})">{escape(label)}</text>'
    )


def tooltip_separator() -> str:
    """The label–value separator of a tooltip (full-width colon in Chinese)."""
    return _("：")


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    unit: str = "",
    top: float | None = None,
    none_text: str = "无数据",
) -> Markup:
    """A vertical bar chart with its value printed on each bar; a None value draws no bar, only none_text."""
    top = top or _nice_max(max((v for v in values if v is not None), default=0))
    parts = _frame(title, top, unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)
    for i, (label, value) in enumerate(zip(labels, values)):
        if value is None:
            # Nothing to rate is not a rate of zero: say why there is no bar.
            x = LEFT + i * slot + slot * 0.5
            parts.append(
                f'<text x="{x:.1f}" y="{TOP + plot_h - 4:.1f}" font-size="9" text-anchor="middle" '
                f'class="no-bar" {FONT}>{escape(none_text)}</text>'
            )
            parts.append(_x_label(x, label))
            continue
        h = plot_h * min(value, top) / top
        x = LEFT + i * slot + slot * 0.15
        y = TOP + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{COLOURS[0]}"><title>{escape(label)}{tooltip_separator()}{_fmt(value)}{escape(unit)}</title></rect>'
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle" '
            f"{FONT}>{_fmt(value)}</text>"
        )
        parts.append(_x_label(x + slot * 0.35, label))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float]], unit: str = "", top: float | None = None
) -> Markup:
    """One line per series over shared labels, with a legend."""
    peak = max((v for vs in series.values() for v in vs), default=0)
    top = top or _nice_max(peak)
    parts = _frame(title, top, unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)
    for i, label in enumerate(labels):
        parts.append(_x_label(LEFT + i * step, label))
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = [(LEFT + i * step, TOP + plot_h - plot_h * min(v, top) / top) for i, v in enumerate(values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, y), v in zip(points, values):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}{tooltip_separator()}{_fmt(v)}{escape(unit)}</title></circle>"
            )
        lx = WIDTH - RIGHT - 120
        ly = 14 + n * 14
        parts.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly + 1}" font-size="11" {FONT}>{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
