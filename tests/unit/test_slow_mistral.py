"""One slow Mistral call delays its own stack only: other stacks' operations
start in the same tick, same-stack submits do not wait for it, and a
Mistral that fails reads is asked less and less often."""

from __future__ import annotations

import threading

import pytest

from tests.unit.fakes import RecordingDispatcher, make_healer, request, unit
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.model import Reason

STACK_A = "aaaaaaaa-0000-0000-0000-00000000000a"
STACK_B = "bbbbbbbb-0000-0000-0000-00000000000b"
BOUND = 10.0      # seconds any wait below may take before the test fails


class HangingDispatcher(RecordingDispatcher):
    """start() on one stack hangs until released, like a Mistral API that
    accepted the connection and never answers."""

    def __init__(self, hang_on: str) -> None:
        super().__init__()
        self.hang_on = hang_on
        self.entered = threading.Event()
        self.release = threading.Event()

    def start(self, execution_id, root_stack_id, units, reason):
        if root_stack_id == self.hang_on:
            self.entered.set()
            assert self.release.wait(BOUND), "never released"
        return super().start(execution_id, root_stack_id, units, reason)


@pytest.fixture
def clock():
    return FakeClock()


def unit_on(stack: str, name: str = "m0"):
    return unit(name, root=stack, stack=f"group-{stack[:8]}")


def threaded(healer, threads: int = 4):
    from vitrage_selfheal.operations.workers import StackWorkers
    healer.workers = StackWorkers(threads, wait=0.2, clock=healer.clock,
                                  counters=healer.counters)
    return healer


def test_a_hung_start_on_one_stack_does_not_delay_another(tmp_path,
                                                          clock) -> None:
    dispatcher = HangingDispatcher(hang_on=STACK_A)
    healer = threaded(make_healer(tmp_path, clock=clock,
                                  dispatcher=dispatcher))
    try:
        healer.submit(request(unit_on(STACK_A)))
        healer.submit(request(unit_on(STACK_B)))
        clock.advance(3)
        out = healer.tick()
        assert dispatcher.entered.is_set()
        # B started in the very tick in which A's call hangs.
        assert [s[1] for s in dispatcher.starts] == [STACK_B]
        assert Reason.BATCH_DISPATCHED in [d.reason for d in out]
        assert healer.workers.in_flight() == [STACK_A]

        # A submit on the hung stack is not blocked by the call.
        done = threading.Event()

        def submit_more():
            healer.submit(request(unit_on(STACK_A, "m1")))
            done.set()

        threading.Thread(target=submit_more, daemon=True).start()
        assert done.wait(BOUND), "submit waited for the hung Mistral call"

        # Ticks go on while A hangs; A is not started a second time.
        for _ in range(3):
            clock.advance(1)
            healer.tick()
        dispatcher.release.set()
        for _ in range(20):
            clock.advance(1)
            healer.tick()
            if not healer.workers.in_flight():
                break
        assert sorted(s[1] for s in dispatcher.starts) == [STACK_A, STACK_B]
    finally:
        dispatcher.release.set()
        healer.stop()


def test_a_failing_mistral_is_read_less_and_less_often(tmp_path,
                                                       clock) -> None:
    dispatcher = RecordingDispatcher()
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    healer.runner.follow_interval = 1.0
    healer.submit(request(unit("m0")))
    clock.advance(3)
    healer.tick()
    assert len(dispatcher.starts) == 1
    dispatcher.down = True
    for _ in range(120):
        clock.advance(1)
        healer.tick()
    reads = [c for c in dispatcher.calls if c[0] == "get"]
    # 1, 2, 4, ... 60 s apart: 8 reads in two minutes, not 120.
    assert 6 <= len(reads) <= 9, len(reads)
    assert healer.counters.snapshot()["dispatch.follow_errors"] == len(reads)
    dispatcher.down = False
    dispatcher.finish_all()
    for _ in range(70):
        clock.advance(1)
        healer.tick()
    with healer.ledger.transaction() as tx:
        assert "EXECUTION_SUCCEEDED" in [r.reason for r in tx.decisions()]


def test_a_running_execution_is_read_at_the_follow_interval(tmp_path,
                                                           clock) -> None:
    dispatcher = RecordingDispatcher()
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    healer.runner.follow_interval = 5.0
    healer.submit(request(unit("m0")))
    clock.advance(3)
    healer.tick()
    for _ in range(40):           # 20 s of ticks at 0.5 s
        clock.advance(0.5)
        healer.tick()
    reads = [c for c in dispatcher.calls if c[0] == "get"]
    assert len(reads) == 4


def test_one_stack_failing_does_not_stop_the_others(tmp_path, clock,
                                                    monkeypatch) -> None:
    dispatcher = RecordingDispatcher()
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit_on(STACK_A)))
    healer.submit(request(unit_on(STACK_B)))
    real = healer.queue.form

    def form(tx, stack, now, status, *more):
        if stack == STACK_A:
            raise RuntimeError("bug on A (test)")
        return real(tx, stack, now, status, *more)

    monkeypatch.setattr(healer.queue, "form", form)
    clock.advance(3)
    healer.tick()
    assert [s[1] for s in dispatcher.starts] == [STACK_B]
    assert healer.last_good_tick is None        # the failure shows
    assert healer.counters.snapshot()["errors.stack_step"] == 1
