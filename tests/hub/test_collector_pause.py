"""The hub pauses the cycle collector while sync messages are handled, and only while they are."""

import gc
import threading

from hub.ingest import no_cycle_collection


def test_collector_resumes_after_the_last_of_overlapping_messages() -> None:
    assert gc.isenabled()
    first_in, second_in, first_may_leave, first_left = (threading.Event() for _ in range(4))
    seen: dict[str, bool] = {}

    def first() -> None:
        with no_cycle_collection():
            first_in.set()
            first_may_leave.wait(5)
        first_left.set()

    def second() -> None:
        first_in.wait(5)
        with no_cycle_collection():
            second_in.set()
            first_left.wait(5)
            # the first message ended while this one runs: the collector stays paused for it
            seen["during_second"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    second_in.wait(5)
    seen["both_in"] = gc.isenabled()
    first_may_leave.set()
    for t in threads:
        t.join(5)
    assert seen == {"both_in": False, "during_second": False}
    assert gc.isenabled()


def test_collector_left_off_if_it_was_off_before() -> None:
    gc.disable()
    try:
        with no_cycle_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_collector_resumes_after_an_error() -> None:
    try:
        with no_cycle_collection():
            raise ValueError("refused")
    except ValueError:
        pass
    assert gc.isenabled()
