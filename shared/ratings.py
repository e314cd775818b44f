"""好差评 (国办发〔2019〕51号): the five rating levels, which of them are 差评, and how old answers read.

The one declaration of the rating vocabulary: the node's form, the hub's ingest and status page,
the paper form and the figures all take the levels from here.

The old 满意情况反馈单 had three levels (满意 / 基本满意 / 不满意). Stored answers are never
rewritten: `level_of` reads each old word as the five-level word it already is, so history
stays as the villager gave it and counts on the same scale as new ratings.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from . import states
from .msgid import N_, listed
from .validation import FEEDBACK_COMMENT_MAX

VERY_SATISFIED = N_("非常满意")
SATISFIED_ = N_("满意")
FAIRLY_SATISFIED = N_("基本满意")
DISSATISFIED = N_("不满意")
VERY_DISSATISFIED = N_("非常不满意")

# The five levels, best first; shared/messages.py declares request.feedback with this type.
Level = Literal["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
LEVELS: tuple[str, ...] = get_args(Level)
assert LEVELS == (VERY_SATISFIED, SATISFIED_, FAIRLY_SATISFIED, DISSATISFIED, VERY_DISSATISFIED)
# 差评: the last two levels; every one is checked, answered and put right within a deadline.
BAD: frozenset[str] = frozenset({DISSATISFIED, VERY_DISSATISFIED})
SATISFIED: frozenset[str] = frozenset(LEVELS) - BAD
# The three-level answers of the old paper form, as the five-level words they read as.
LEGACY: dict[str, str] = {"满意": SATISFIED_, "基本满意": FAIRLY_SATISFIED, "不满意": DISSATISFIED}
# Column keys for exports and JSON, one per level.
KEYS: dict[str, str] = {
    VERY_SATISFIED: "very_satisfied",
    SATISFIED_: "satisfied",
    FAIRLY_SATISFIED: "fairly_satisfied",
    DISSATISFIED: "dissatisfied",
    VERY_DISSATISFIED: "very_dissatisfied",
}

# Where a rating was given ("一次一评" at the village point or counter, on paper, "一事一评" online).
CHANNELS: dict[str, str] = {
    "village": N_("村代办点"),
    "paper": N_("纸质评价表（代办员录入）"),
    "counter": N_("窗口"),
    "online": N_("网上（进度查询页）"),
}
MAX_COMMENT = FEEDBACK_COMMENT_MAX
# Working days to check, answer and put right a 差评 unless the township configures otherwise.
DEFAULT_RECTIFY_DAYS = 15
CHOOSE_MESSAGE = N_("请选择评价：%(levels)s", levels=listed(list(LEVELS)))
ALREADY_RATED = N_("该事项已经评价过（一事一评），不能重复评价")
NOT_RATEABLE = N_("该申请尚未提交（或已撤回、退回），不能评价")
TOO_LONG = N_("意见不能超过 %(max)d 字", max=MAX_COMMENT)


def level_of(value: Any) -> str | None:
    """The five-level word for a stored answer (new or old form), or None when it is not a rating."""
    if not isinstance(value, str):
        return None
    if value in LEVELS:
        return value
    return LEGACY.get(value)


def is_bad(value: Any) -> bool:
    """True for a 差评 (不满意 or 非常不满意), whichever form it was given on."""
    return level_of(value) in BAD


def can_rate(state: str) -> bool:
    """A matter can be rated once it was sent to the centre, unless it was withdrawn or sent back."""
    return state not in (states.HELD, states.WITHDRAWN, states.INVALID)


def can_rate_online(state: str) -> bool:
    """On the public status page a matter is rated once it has its result (一事一评)."""
    return can_rate(state) and state in states.TERMINAL


NOT_DONE = N_("事项办结后才能在网上评价；也可在村代办点当面评价")


def check(level: Any, comment: Any) -> list[str]:
    """Chinese messages for a rating that cannot be taken as given (empty when it can)."""
    errors = []
    if level not in LEVELS:
        errors.append(CHOOSE_MESSAGE)
    if not isinstance(comment, str):
        errors.append(N_("意见必须是文字"))
    elif len(comment) > MAX_COMMENT:
        errors.append(TOO_LONG)
    return errors
