"""Coalescing that follows a storm: a stack's operation forms once no new
unit came for the window (in any stack), or coalesce_max after its first."""

from __future__ import annotations

from tests.unit.fakes import RecordingDispatcher, make_healer, request, unit
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.decide.policy import Policy

POLICY = Policy(coalesce_window=2.0, coalesce_max=10.0, min_heal_allowed=99)


def at(healer, clock, t0: float, t: float) -> None:
    clock.advance(t0 + t - clock.now())
    healer.tick()


def started(dispatcher) -> list[tuple[str, int]]:
    return sorted((root, len(units)) for _id, root, units in
                  dispatcher.starts)


def test_a_storm_spread_over_seconds_heals_each_stack_once(tmp_path):
    clock, dispatcher = FakeClock(), RecordingDispatcher()
    healer = make_healer(tmp_path, POLICY, clock=clock,
                         dispatcher=dispatcher)
    t0 = clock.now()
    a = [unit(f"a{n}", root="stack-a", stack="group-a", size=20)
         for n in range(3)]
    b = unit("b0", root="stack-b", stack="group-b", size=20)
    healer.submit(request(a[0]))
    at(healer, clock, t0, 1.5)
    healer.submit(request(b))
    at(healer, clock, t0, 3.0)     # stack a quiet for 3 s, the storm not
    healer.submit(request(a[1]))
    at(healer, clock, t0, 4.5)
    healer.submit(request(a[2]))
    at(healer, clock, t0, 6.0)
    assert dispatcher.starts == []
    at(healer, clock, t0, 6.5)     # 2 s after the last unit anywhere
    assert started(dispatcher) == [("stack-a", 3), ("stack-b", 1)]


def test_units_that_keep_coming_go_after_coalesce_max(tmp_path):
    clock, dispatcher = FakeClock(), RecordingDispatcher()
    healer = make_healer(tmp_path, POLICY, clock=clock,
                         dispatcher=dispatcher)
    t0 = clock.now()
    for n in range(12):
        healer.submit(request(unit(f"c{n}", root="stack-c", stack="group-c",
                                   size=100)))
        at(healer, clock, t0, n + 1.0)
        if n + 1.0 < 10.0:
            assert dispatcher.starts == []
    # Formed at the ceiling with the ten queued by then; the rest follow.
    assert started(dispatcher)[0] == ("stack-c", 10)
