"""Request ids a node makes: the prefix, the day, random bits; in the order of their days, unique whatever the clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared import messages, protocol
from shared.receipt_codes import ALPHABET, PREFIX_LENS

TAIL = re.compile(rf"[0-9a-f]{{{protocol.REQUEST_ID_TAIL_HEX}}}")
EPOCH = datetime(2024, 1, 1)

prefixes = st.sampled_from(PREFIX_LENS).flatmap(lambda n: st.text(ALPHABET, min_size=n, max_size=n))
# Any clock a village PC may have: before the epoch (a flat CMOS battery), now, far past 4 hex digits.
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2400, 1, 1))


def test_an_id_is_the_prefix_the_day_and_random_bits() -> None:
    request_id = protocol.new_request_id("22", datetime(2026, 12, 1, 9, 30))
    assert request_id[:2] == "22" == request_id[: -protocol.REQUEST_ID_TAIL_HEX]
    assert request_id[2:6] == f"{(datetime(2026, 12, 1) - EPOCH).days:04x}" == "0429"
    assert TAIL.fullmatch(request_id[2:])
    assert len(request_id) == 2 + 17


def test_a_later_days_id_sorts_after_an_earlier_days() -> None:
    day = datetime(2027, 3, 4, 23, 59, 59)
    earlier = [protocol.new_request_id("7K", day) for _ in range(50)]
    later = [protocol.new_request_id("7K", day + timedelta(seconds=1)) for _ in range(50)]
    assert max(earlier) < min(later)


def test_a_clock_outside_the_days_four_hex_digits_hold_keeps_the_length() -> None:
    before = protocol.new_request_id("22", datetime(2001, 5, 5))
    after = protocol.new_request_id("22", datetime(2300, 1, 1))
    assert before[2:6] == "0000"
    assert after[2:6] == "ffff"
    assert len(before) == len(after) == 19


def test_an_aware_time_is_read_in_utc() -> None:
    from datetime import timezone

    beijing = timezone(timedelta(hours=8))
    # 07:00 in Beijing on 2 January is still 1 January in UTC.
    assert protocol.request_id_day(datetime(2024, 1, 2, 7, 0, tzinfo=beijing)) == "0000"
    assert protocol.request_id_day(datetime(2024, 1, 2, 8, 0, tzinfo=beijing)) == "0001"


@settings(max_examples=200, deadline=None)
@given(prefix=prefixes, clock=st.lists(moments, min_size=1, max_size=40))
def test_whatever_the_clock_does_ids_keep_the_shape_the_hub_reads(prefix: str, clock: list[datetime]) -> None:
    # Repeated, backwards or out-of-range moments: only the order of the ids is lost.
    ids = [protocol.new_request_id(prefix, at) for at in clock]
    for request_id, at in zip(ids, clock):
        assert request_id[: -protocol.REQUEST_ID_TAIL_HEX] == prefix
        assert TAIL.fullmatch(request_id[len(prefix) :])
        assert request_id[len(prefix) : len(prefix) + 4] == protocol.request_id_day(at)
        assert messages.convert(request_id, messages.Ident) == request_id  # as the hub reads an id
        # Never the length of an id the hub's counter makes (new_id, 32 hex digits).
        assert len(request_id) != len(protocol.new_id())
    assert len(set(ids)) == len(ids)


@settings(max_examples=100, deadline=None)
@given(first=moments, second=moments)
def test_ids_of_one_prefix_sort_by_their_days(first: datetime, second: datetime) -> None:
    a, b = protocol.new_request_id("AB", first), protocol.new_request_id("AB", second)
    if protocol.request_id_day(first) < protocol.request_id_day(second):
        assert a < b
    elif protocol.request_id_day(first) > protocol.request_id_day(second):
        assert a > b
