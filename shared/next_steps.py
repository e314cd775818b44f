"""What a villager can do next when a request closes without what they asked for, in plain words.

One rule for the hub's and the node's public status pages. The periods are the law's:
行政复议 within 60 days of learning of the decision (《行政复议法》第二十条), 行政诉讼 within
6 months (《行政诉讼法》第四十六条). The dates shown count from the day of the decision, the
earliest day the villager can have learned of it, so they are never later than the law's.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from shared import states

RECONSIDERATION_DAYS = 60
LITIGATION_MONTHS = 6
# States that end a request without the villager getting what they asked for.
ADVERSE: frozenset[str] = frozenset({states.REFUSED, states.DENIED, states.COUNTY_DENIED})


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def next_steps(state: str, decided_on: date | None, window_name: str = "") -> list[str]:
    """Plain sentences on what the villager can do after a refusal or denial; empty for other states."""
    if state not in ADVERSE:
        return []
    where = f"乡镇政务服务中心{window_name}窗口" if window_name else "乡镇政务服务中心"
    steps = []
    if state == states.REFUSED:
        steps.append(f"如能补齐或更正上面所说的问题，可以带上身份证和相关材料，到村代办点或{where}重新申请。")
    else:
        steps.append(f"如情况有变化、符合条件了，可以带上身份证和证明材料，到村代办点或{where}再次申请。")
    if decided_on is not None:
        until_r = f"（{_cn(decided_on + timedelta(days=RECONSIDERATION_DAYS))}前）"
        until_l = f"（{_cn(add_months(decided_on, LITIGATION_MONTHS))}前）"
    else:
        until_r = until_l = ""
    steps.append(
        f"如对这个决定不服，可以在知道决定之日起 {RECONSIDERATION_DAYS} 日内{until_r}申请行政复议，"
        f"或者在 {LITIGATION_MONTHS} 个月内{until_l}向人民法院提起行政诉讼。不清楚怎么办的，可以问村代办点。"
    )
    return steps
