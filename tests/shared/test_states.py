"""Tests for request states and transitions."""

import pytest

from shared import states
from shared.states import ACTION_LABELS
from shared.states import ACTIONS
from shared.states import CLOCK_PAUSED
from shared.states import LABELS
from shared.states import TERMINAL
from shared.states import TRANSITIONS
from shared.states import TransitionError
from shared.states import available_actions
from shared.states import can_transition
from shared.states import check_transition
from shared.states import is_terminal


def test_every_state_has_label_and_transitions():
    assert set(LABELS) == set(TRANSITIONS)
    assert len(LABELS) == 13
    assert LABELS["needs_materials"] == "待补正"
    assert all(all(t in TRANSITIONS for t in nxt) for nxt in TRANSITIONS.values())


def test_terminal_states():
    assert TERMINAL == {"refused", "approved", "denied", "withdrawn", "invalid", "county_approved", "county_denied"}
    assert all(not TRANSITIONS[s] for s in TERMINAL)
    assert is_terminal("approved")
    assert not is_terminal("accepted")
    assert CLOCK_PAUSED == {"needs_materials"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("held", "queued"),
        ("queued", "received"),
        ("queued", "invalid"),
        ("received", "accepted"),
        ("received", "needs_materials"),
        ("needs_materials", "received"),
        ("accepted", "needs_materials"),
        ("accepted", "approved"),
        ("accepted", "denied"),
        ("accepted", "withdrawn"),
    ],
)
def test_allowed(a, b):
    assert can_transition(a, b)
    check_transition(a, b)


def test_refused_to_approved_raises_chinese_message():
    with pytest.raises(TransitionError) as info:
        check_transition("refused", "approved")
    assert info.value.code == "terminal_state"
    assert "办结（准予）不能从 不予受理 转入" in info.value.message
    assert str(info.value) == info.value.message


@pytest.mark.parametrize(
    ("a", "b", "code"),
    [
        ("held", "received", "forbidden_transition"),
        ("queued", "accepted", "forbidden_transition"),
        ("needs_materials", "approved", "forbidden_transition"),
        ("received", "denied", "forbidden_transition"),
        ("accepted", "accepted", "forbidden_transition"),
        ("approved", "withdrawn", "terminal_state"),
        ("invalid", "queued", "terminal_state"),
        ("received", "approved", "immediate_only"),
        ("received", "lost", "unknown_state"),
    ],
)
def test_forbidden(a, b, code):
    assert not can_transition(a, b)
    with pytest.raises(TransitionError) as info:
        check_transition(a, b)
    assert info.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in info.value.message)


def test_immediate_items_may_be_approved_on_receipt():
    assert can_transition("received", "approved", mode="immediate")
    assert not can_transition("received", "approved", mode="processed")
    with pytest.raises(TransitionError, match="承办件须先受理"):
        check_transition("received", "approved")


def test_unknown_mode_is_a_programming_error():
    with pytest.raises(ValueError):
        can_transition("received", "accepted", mode="fast")


def test_actions():
    assert ACTIONS == {
        "accept": "accepted",
        "ask_materials": "needs_materials",
        "refuse": "refused",
        "approve": "approved",
        "deny": "denied",
        "to_county": "passed_up",
        "county_approve": "county_approved",
        "county_deny": "county_denied",
    }
    assert set(ACTION_LABELS) == set(ACTIONS)
    assert available_actions("received") == ["accept", "ask_materials", "refuse"]
    assert available_actions("received", "immediate") == ["accept", "ask_materials", "refuse", "approve"]
    assert available_actions("accepted") == ["ask_materials", "approve", "deny"]
    assert available_actions("approved") == []


def test_unknown_state_reads_as_itself():
    assert states.label("nope") == "nope"


def test_pass_up_items_go_to_the_county_and_only_they():
    assert LABELS["passed_up"] == "初审通过·已报县级"
    assert (LABELS["county_approved"], LABELS["county_denied"]) == ("县级批准", "县级不予批准")
    assert available_actions("accepted", passes_up=True) == ["ask_materials", "deny", "to_county"]
    assert available_actions("passed_up", passes_up=True) == ["county_approve", "county_deny"]
    assert states.COUNTY_ANSWERS == {"county_approve": "county_approved", "county_deny": "county_denied"}
    with pytest.raises(TransitionError) as info:
        check_transition("accepted", "approved", passes_up=True)
    assert info.value.code == "county_decides"
    assert "报县级" in info.value.message
    with pytest.raises(TransitionError) as info:
        check_transition("accepted", "passed_up")
    assert info.value.code == "not_for_county"
    with pytest.raises(TransitionError) as info:
        check_transition("county_approved", "county_denied", passes_up=True)
    assert info.value.code == "terminal_state"
    assert not can_transition("received", "passed_up", passes_up=True)
