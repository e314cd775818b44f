"""Request states and the transitions allowed between them, shared by node and hub.

"held" and "queued" exist only on the village node; every other state is set
by the hub and synced back down.  Terminal states never change again.

报县级: an item the township only examines (the catalogue marks it ``county_approval``) is
accepted, examined, and passed up (``passed_up``, 初审通过·已报县级); the county's
answer comes back as ``county_approved`` or ``county_denied``.  The township never
approves such an item itself.  A township hub records the county's answer from the
county's document; a county hub can drive the same two transitions (``COUNTY_ANSWERS``).
"""

from __future__ import annotations

from .msgid import N_

HELD = "held"
QUEUED = "queued"
RECEIVED = "received"
ACCEPTED = "accepted"
NEEDS_MATERIALS = "needs_materials"
REFUSED = "refused"
APPROVED = "approved"
DENIED = "denied"
WITHDRAWN = "withdrawn"
INVALID = "invalid"
PASSED_UP = "passed_up"
COUNTY_APPROVED = "county_approved"
COUNTY_DENIED = "county_denied"

LABELS: dict[str, str] = {
    HELD: N_("暂存"),
    QUEUED: N_("待上传"),
    RECEIVED: N_("已接收"),
    ACCEPTED: N_("已受理"),
    NEEDS_MATERIALS: N_("待补正"),
    REFUSED: N_("不予受理"),
    APPROVED: N_("办结（准予）"),
    DENIED: N_("办结（不予批准）"),
    WITHDRAWN: N_("已撤回"),
    INVALID: N_("退回（信息有误）"),
    PASSED_UP: N_("初审通过·已报县级"),
    COUNTY_APPROVED: N_("县级批准"),
    COUNTY_DENIED: N_("县级不予批准"),
}

STATES: tuple[str, ...] = tuple(LABELS)
NODE_ONLY: frozenset[str] = frozenset({HELD, QUEUED})
TERMINAL: frozenset[str] = frozenset({REFUSED, APPROVED, DENIED, WITHDRAWN, INVALID, COUNTY_APPROVED, COUNTY_DENIED})
# Waiting for the county's answer: the township's own time limit is spent (shared.workdays.case_clock).
WITH_COUNTY: frozenset[str] = frozenset({PASSED_UP})
# While the villager gathers missing materials (补正) the legal clock stands still.
CLOCK_PAUSED: frozenset[str] = frozenset({NEEDS_MATERIALS})

TRANSITIONS: dict[str, frozenset[str]] = {
    HELD: frozenset({QUEUED, WITHDRAWN}),
    QUEUED: frozenset({RECEIVED, INVALID, WITHDRAWN}),
    RECEIVED: frozenset({ACCEPTED, NEEDS_MATERIALS, REFUSED, APPROVED, WITHDRAWN}),
    NEEDS_MATERIALS: frozenset({RECEIVED, ACCEPTED, REFUSED, WITHDRAWN}),
    ACCEPTED: frozenset({NEEDS_MATERIALS, APPROVED, DENIED, WITHDRAWN, PASSED_UP}),
    PASSED_UP: frozenset({COUNTY_APPROVED, COUNTY_DENIED, WITHDRAWN}),
    REFUSED: frozenset(),
    APPROVED: frozenset(),
    DENIED: frozenset(),
    WITHDRAWN: frozenset(),
    INVALID: frozenset(),
    COUNTY_APPROVED: frozenset(),
    COUNTY_DENIED: frozenset(),
}

# Straight from received to approved is the same-day path of 即办件 only;
# a 承办件 must be accepted first so its time limit starts on the record.
_IMMEDIATE_ONLY: frozenset[tuple[str, str]] = frozenset({(RECEIVED, APPROVED)})
# Only a pass-up item goes to the county, and the township never approves one itself
# (it may still deny it at 初审: 初审不通过 is the township's own decision).
_PASS_UP_ONLY: frozenset[str] = frozenset({PASSED_UP})
_NOT_FOR_PASS_UP: frozenset[str] = frozenset({APPROVED})

MODES = ("immediate", "processed")

ACTIONS: dict[str, str] = {
    "accept": ACCEPTED,
    "ask_materials": NEEDS_MATERIALS,
    "refuse": REFUSED,
    "approve": APPROVED,
    "deny": DENIED,
    "to_county": PASSED_UP,
    "county_approve": COUNTY_APPROVED,
    "county_deny": COUNTY_DENIED,
}
# The two answers a county gives; recorded from its document at a township hub, or set by a county hub.
COUNTY_ANSWERS: dict[str, str] = {"county_approve": COUNTY_APPROVED, "county_deny": COUNTY_DENIED}

ACTION_LABELS: dict[str, str] = {
    "accept": N_("受理"),
    "ask_materials": N_("一次性告知补正材料"),
    "refuse": N_("不予受理"),
    "approve": N_("办结（准予）"),
    "deny": N_("办结（不予批准）"),
    "to_county": N_("初审通过·报县级"),
    "county_approve": N_("县级批准"),
    "county_deny": N_("县级不予批准"),
}


class TransitionError(ValueError):
    """A state change that the rules forbid; `code` for machines, `message` in Chinese."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def label(state: str) -> str:
    """Return the Chinese label of a state, or the state itself if unknown."""
    return LABELS.get(state, state)


def is_terminal(state: str) -> bool:
    """Return True if nothing may follow this state."""
    return state in TERMINAL


def check_transition(current: str, target: str, mode: str = "processed", passes_up: bool = False) -> None:
    """Raise TransitionError unless an item of this mode (passed up to the county or not) may move so."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    for s in (current, target):
        if s not in TRANSITIONS:
            raise TransitionError("unknown_state", N_("未知的办理状态：%(s)s", s=s))
    base = N_("%(target)s不能从 %(current)s 转入", target=LABELS[target], current=LABELS[current])
    if current in TERMINAL:
        raise TransitionError("terminal_state", N_("%(base)s：该申请已办理终结，不能再变更", base=base))
    if target not in TRANSITIONS[current]:
        raise TransitionError("forbidden_transition", base)
    if (current, target) in _IMMEDIATE_ONLY and mode != "immediate":
        raise TransitionError("immediate_only", N_("%(base)s：承办件须先受理再办结", base=base))
    if target in _PASS_UP_ONLY and not passes_up:
        raise TransitionError("not_for_county", N_("%(base)s：本事项由乡镇审批，不报县级", base=base))
    if target in _NOT_FOR_PASS_UP and passes_up:
        raise TransitionError(
            "county_decides", N_("%(base)s：本事项须报县级审批，乡镇初审通过后请选择“初审通过·报县级”", base=base)
        )


def can_transition(current: str, target: str, mode: str = "processed", passes_up: bool = False) -> bool:
    """Return True if an item of this mode may move from current to target."""
    try:
        check_transition(current, target, mode, passes_up)
    except TransitionError:
        return False
    return True


def available_actions(current: str, mode: str = "processed", passes_up: bool = False) -> list[str]:
    """Return the hub action names allowed from current for an item of this mode."""
    return [a for a, s in ACTIONS.items() if can_transition(current, s, mode, passes_up)]
