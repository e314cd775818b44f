"""The centre's report as plain text for `daiban hub figures`: the headline in the centre's words,
then one aligned table per breakdown (Chinese characters are two columns wide in a terminal)."""

from __future__ import annotations

from typing import Iterable, Sequence

from shared.spreadsheet import display_width

from .figures import GROUPS, Figures, Report, percent

# The centre's categories; the page and the workbook add the supervision columns.
TEXT_COLUMNS: list[tuple[str, str]] = [
    ("label", "名称"),
    ("handled", "接待"),
    ("instant", "即办件"),
    ("instant_done", "即办已办结"),
    ("undertaken", "承办件"),
    ("undertaken_done", "已办结"),
    ("undertaken_open", "正在办理"),
    ("refused", "不予受理"),
    ("undertaken_on_time_rate", "按时办结率"),
]


def headline(report: Report) -> list[str]:
    """The report's first lines, as the centre writes its year."""
    t = report.total
    instant = "全部办结" if t.instant_all_done else f"已办结 {t.instant_done}，未办结 {t.instant_open}"
    return [
        f"统计期间：{report.period}",
        f"接待（收件）{t.handled} 件：即办件 {t.instant} 件（{instant}）；"
        f"承办件 {t.undertaken} 件 = 已办结 {t.undertaken_done} + 正在办理 {t.undertaken_open}；"
        f"不予受理 {t.refused} 件；撤回/退回 {t.withdrawn} 件",
        f"按时办结率（承办件）：{percent(t.undertaken_on_time_rate)}",
    ]


def _cells(fig: Figures) -> list[str]:
    d = fig.as_dict()
    return [percent(d[k]) if k.endswith("_rate") else str(d[k]) for k, _ in TEXT_COLUMNS]


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Rows aligned in columns: names left, numbers right."""
    rows = [list(header), *map(list, rows)]
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for r in rows:
        cells = [
            c + " " * (w - display_width(c)) if i == 0 else " " * (w - display_width(c)) + c
            for i, (c, w) in enumerate(zip(r, widths))
        ]
        out.append("  ".join(cells).rstrip())
    return out


def render(report: Report, groups: Sequence[str]) -> str:
    """The headline, then each chosen breakdown with its total line."""
    lines = headline(report)
    for by in groups:
        lines += ["", f"按{GROUPS[by]}："]
        lines += table([t for _, t in TEXT_COLUMNS], [_cells(f) for f in [*report.groups[by], report.total]])
    return "\n".join(lines)
