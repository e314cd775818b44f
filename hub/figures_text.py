"""The centre's report as plain text for `daiban hub figures`: the headline in the centre's words,
then one aligned table per breakdown (Chinese characters are two columns wide in a terminal)."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from shared.spreadsheet import display_width

from .figures import GROUPS, Figures, Report, percent
from shared.msgid import N_, as_marked

# The centre's categories; the page and the workbook add the supervision columns.
TEXT_COLUMNS: list[tuple[str, str]] = [
    ("label", N_("名称")),
    ("handled", N_("接待")),
    ("instant", N_("即办件")),
    ("instant_done", N_("即办已办结")),
    ("undertaken", N_("承办件")),
    ("undertaken_done", N_("已办结")),
    ("undertaken_open", N_("正在办理")),
    ("refused", N_("不予受理")),
    ("undertaken_on_time_rate", N_("按时办结率")),
]


def headline(report: Report, say: Callable[..., str] = as_marked) -> list[str]:
    """The report's first lines, as the centre writes its year, in the language of `say` (a gettext)."""
    t = report.total
    if t.instant_all_done:
        instant = say(N_("全部办结"))
    else:
        instant = say(N_("已办结 %(done)s，未办结 %(open)s"), done=t.instant_done, open=t.instant_open)
    return [
        say(N_("统计期间：%(period)s"), period=say(report.period)),
        say(
            N_(
                "接待（收件）%(handled)s 件：即办件 %(instant)s 件（%(instant_state)s）；"
                "承办件 %(undertaken)s 件 = 已办结 %(undertaken_done)s + 正在办理 %(undertaken_open)s；"
                "不予受理 %(refused)s 件；撤回/退回 %(withdrawn)s 件"
            ),
            handled=t.handled,
            instant=t.instant,
            instant_state=instant,
            undertaken=t.undertaken,
            undertaken_done=t.undertaken_done,
            undertaken_open=t.undertaken_open,
            refused=t.refused,
            withdrawn=t.withdrawn,
        ),
        say(N_("按时办结率（承办件）：%(rate)s"), rate=percent(t.undertaken_on_time_rate)),
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


def render(report: Report, groups: Sequence[str], say: Callable[..., str] = as_marked) -> str:
    """The headline, then each chosen breakdown with its total line, in the language of `say`."""
    lines = headline(report, say)
    for by in groups:
        lines += ["", say(N_("按%(group)s："), group=say(GROUPS[by]))]
        rows = [[say(f.label), *_cells(f)[1:]] for f in [*report.groups[by], report.total]]
        lines += table([say(t) for _, t in TEXT_COLUMNS], rows)
    return "\n".join(lines)
