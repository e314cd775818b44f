"""What the villager is told after a refusal or denial: where to apply again, 复议 in 60 days, 诉讼 in 6 months."""

from __future__ import annotations

from datetime import date

from shared import states
from shared.next_steps import add_months, next_steps


def test_add_months_keeps_the_day_or_takes_the_months_last() -> None:
    assert add_months(date(2026, 11, 30), 6) == date(2027, 5, 30)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)


def test_refusal_says_where_to_reapply_and_the_appeal_deadlines() -> None:
    steps = " ".join(next_steps(states.REFUSED, date(2026, 11, 30), "计划生育"))
    assert "重新申请" in steps
    assert "计划生育窗口" in steps
    assert "村代办点" in steps
    assert "60 日内（2027年1月29日前）申请行政复议" in steps
    assert "6 个月内（2027年5月30日前）向人民法院提起行政诉讼" in steps


def test_only_adverse_decisions_have_next_steps() -> None:
    assert "再次申请" in " ".join(next_steps(states.DENIED, None))
    assert "（" not in next_steps(states.DENIED, None)[1]  # no decision day: no date invented
    for state in (states.RECEIVED, states.ACCEPTED, states.APPROVED, states.WITHDRAWN):
        assert next_steps(state, date(2026, 11, 30)) == []
