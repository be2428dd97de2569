"""Issue 7's five behaviours: every start of a stack operation passes one
gate, failures are bounded, stuck executions are cancelled and confirmed,
root-cause clears settle, small groups heal. FakeClock, no sleeps."""

from __future__ import annotations

import pytest

from tests.unit.fakes import (
    ROOT,
    StackStatuses,
    make_healer,
    request,
    unit,
)
from vitrage_selfheal.decide.policy import Policy, Threshold
from vitrage_selfheal.dispatch.base import DispatchRefused, ExecState
from vitrage_selfheal.model import Intent, Reason


def reasons(decisions):
    return [d.reason for d in decisions]


def starts(dispatcher):
    """Every start call, refused ones too."""
    return [c[1] for c in dispatcher.calls if c[0] == "start"]


def run(healer, clock, seconds, step=1.0, dispatcher=None):
    """Tick for `seconds`; checks the one-execution rule on every tick."""
    out = []
    for _ in range(int(seconds / step)):
        clock.advance(step)
        out += healer.tick()
        if dispatcher is not None:
            assert len(dispatcher.running()) <= 1, dispatcher.running()
    return out


def fail_first_execution(healer, clock, dispatcher):
    healer.submit(request(unit("0")))
    run(healer, clock, 3)
    assert len(dispatcher.starts) == 1
    dispatcher.finish_all(ExecState.ERROR, {"failure": {"step": "x"}})
    out = healer.tick()
    assert Reason.RETRY_BACKOFF in reasons(out)


# -- 1. the kill switch, suppression and storm stop a retry -----------------

def test_global_hold_during_retry_wait_starts_nothing(tmp_path, clock,
                                                      dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    fail_first_execution(healer, clock, dispatcher)
    healer.hold("maintenance")
    out = run(healer, clock, 120)
    assert len(dispatcher.starts) == 1
    held = [d for d in out if d.reason is Reason.HELD_BY_OPERATOR]
    assert len(held) == 1 and "attempt 2 not started" in held[0].detail
    healer.release()
    out = run(healer, clock, 2)
    assert Reason.BATCH_DISPATCHED in reasons(out)
    assert len(dispatcher.starts) == 2


def test_stack_hold_during_retry_wait_starts_nothing(tmp_path, clock,
                                                     dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    fail_first_execution(healer, clock, dispatcher)
    healer.hold("change window", root_stack_id=ROOT)
    run(healer, clock, 120)
    assert len(dispatcher.starts) == 1


def test_root_cause_during_retry_wait_takes_the_unit_out(tmp_path, clock,
                                                         dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    fail_first_execution(healer, clock, dispatcher)
    out = healer.submit(request(unit("0"), alarm="sw",
                                intent=Intent.SUPPRESS,
                                name="selfheal.suppress: switch down"))
    assert "withdrawn before its start" in out[0].detail
    run(healer, clock, 120)
    assert len(dispatcher.starts) == 1
    # The unit is held by its root cause, not lost: healed once it is clear
    # for the settle time and the unit is still unhealthy.
    healer.submit(request(unit("0"), alarm="sw", intent=Intent.SUPPRESS,
                          active=False))
    run(healer, clock, 60)
    assert len(dispatcher.starts) == 1
    run(healer, clock, 40)
    assert len(dispatcher.starts) == 2


def test_storm_during_retry_wait_holds_the_retry(tmp_path, clock,
                                                 dispatcher):
    policy = Policy(min_heal_allowed=1)
    healer = make_healer(tmp_path, policy, clock=clock,
                         dispatcher=dispatcher)
    fail_first_execution(healer, clock, dispatcher)
    for name in ("1", "2"):              # 3 of 4 now: a storm
        healer.submit(request(unit(name)))
    out = run(healer, clock, 120)
    assert len(dispatcher.starts) == 1
    assert Reason.STORM_GUARD in reasons(out)


# -- 2. a refused start is bounded and opens the breaker ----------------------

def test_refused_start_is_bounded_opens_breaker_and_frees_the_stack(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    dispatcher.start_error = DispatchRefused(
        "Mistral refused to start: HTTP 404: Workflow not found")
    healer.submit(request(unit("0")))
    out = run(healer, clock, 3)
    healer.submit(request(unit("1")))    # waits behind the failing one
    out += run(healer, clock, 2000)
    assert len(starts(dispatcher)) == 3  # max_attempts
    failed = [d for d in out if d.reason is Reason.DISPATCH_FAILED]
    assert [d.action.value for d in failed] == ["retry", "retry", "fail"]
    assert len({d.detail for d in failed}) == 3      # one row per attempt
    with healer.ledger.transaction() as tx:
        rows = tx.decisions(reason="DISPATCH_FAILED")
        assert len(rows) == 3
        hold = tx.hold_for(ROOT)
        assert hold is not None and "Workflow not found" in hold.reason
        assert [a.outcome for a in tx.attempts(rows[0].batch_id)] == [
            "START_FAILED"] * 3
    # The other unit waited with a name, then was held by the breaker.
    mine = [d.reason for d in out if d.unit_key == unit("1").key]
    assert Reason.STACK_BUSY in mine and mine[-1] is Reason.CIRCUIT_OPEN
    # The operator fixes Mistral and closes the breaker: both heal.
    dispatcher.start_error = None
    healer.release(ROOT)
    out = run(healer, clock, 5)
    assert Reason.BATCH_DISPATCHED in reasons(out)
    assert dispatcher.starts[-1][2] == (unit("0").key, unit("1").key)


def test_start_timeouts_count_as_attempts_with_the_same_id(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    dispatcher.down = True
    healer.submit(request(unit("0")))
    run(healer, clock, 400)
    assert len(starts(dispatcher)) == 3
    # Each failed start might have reached Mistral: one id for all three.
    assert len(set(starts(dispatcher))) == 1
    with healer.ledger.transaction() as tx:
        hold = tx.hold_for(ROOT)
    assert "may exist in Mistral" in hold.reason


# -- 3. stuck means cancel, confirm, then retry -------------------------------

def test_stuck_execution_is_cancelled_and_confirmed_before_a_retry(
        tmp_path, clock, dispatcher):
    policy = Policy(execution_timeout=100, retry_backoff=10)
    healer = make_healer(tmp_path, policy, clock=clock,
                         dispatcher=dispatcher)
    dispatcher.cancel_ends = False       # Mistral winds down slowly
    healer.submit(request(unit("0")))
    run(healer, clock, 3, dispatcher=dispatcher)
    (first,) = dispatcher.distinct
    out = run(healer, clock, 100, dispatcher=dispatcher)
    assert Reason.EXECUTION_STUCK in reasons(out)
    assert dispatcher.cancels == [first]
    out = run(healer, clock, 60, dispatcher=dispatcher)
    assert len(dispatcher.starts) == 1   # not confirmed: no second one
    dispatcher.finish(first, ExecState.ERROR)     # now it is CANCELLED
    out = run(healer, clock, 15, dispatcher=dispatcher)
    assert Reason.BATCH_DISPATCHED in reasons(out)
    second = dispatcher.starts[-1][0]
    assert second != first
    assert dispatcher.calls.index(("cancel", first)) < dispatcher.calls.index(
        ("start", second))


def test_cancel_never_confirmed_opens_breaker_without_a_twin(
        tmp_path, clock, dispatcher):
    policy = Policy(execution_timeout=100, cancel_timeout=300)
    healer = make_healer(tmp_path, policy, clock=clock,
                         dispatcher=dispatcher)
    dispatcher.cancel_ends = False
    healer.submit(request(unit("0")))
    run(healer, clock, 3)
    out = run(healer, clock, 500, step=5, dispatcher=dispatcher)
    assert len(dispatcher.starts) == 1
    assert len(dispatcher.cancels) > 1   # asked again while it runs
    assert out[-1].reason is Reason.CIRCUIT_OPEN
    with healer.ledger.transaction() as tx:
        assert "after its cancel" in tx.hold_for(ROOT).reason


# -- 4. a root-cause blip does not replace healthy units ----------------------

@pytest.mark.parametrize("lag", [3, 30])
def test_root_cause_blip_with_lagging_symptoms_heals_nothing(
        tmp_path, clock, dispatcher, lag):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    units = [unit(str(i), size=6) for i in range(3)]
    for u in units:                      # the switch, then the symptoms
        healer.submit(request(u, alarm="sw", intent=Intent.SUPPRESS,
                              name="selfheal.suppress: switch down"))
    for u in units:
        healer.submit(request(u, name="selfheal.heal: app unhealthy"))
    run(healer, clock, 10)
    for u in units:                      # the switch is back after 10 s
        healer.submit(request(u, alarm="sw", intent=Intent.SUPPRESS,
                              active=False))
    run(healer, clock, lag)
    for u in units:                      # Aodh clears the symptoms late
        healer.submit(request(u, active=False))
    run(healer, clock, 300)
    assert dispatcher.starts == []
    with healer.ledger.transaction() as tx:
        assert tx.held_units() == [] and tx.in_flight() == []


def test_unit_that_recovers_while_its_operation_waits_leaves_it(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0")))
    healer.submit(request(unit("1")))
    run(healer, clock, 3)
    dispatcher.finish_all(ExecState.ERROR)
    healer.tick()                        # RETRY_WAIT, 30 s
    out = healer.submit(request(unit("1"), active=False))
    assert "left operation" in out[0].detail
    run(healer, clock, 40)
    assert dispatcher.starts[-1][2] == (unit("0").key,)


# -- 5. small groups heal, big failures go max_in_flight at a time -----------

@pytest.mark.parametrize("size", [1, 2])
def test_small_groups_heal_with_default_policy(tmp_path, clock, dispatcher,
                                               size):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    out = healer.submit(request(unit("0", size=size)))
    assert reasons(out) == [Reason.FIRST_HEAL]
    run(healer, clock, 3)
    assert len(dispatcher.starts) == 1


def test_host_with_three_of_four_units_heals_them(tmp_path, clock,
                                                  dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    for name in "012":
        assert reasons(healer.submit(request(unit(name, size=4)))) == [
            Reason.FIRST_HEAL]
    run(healer, clock, 3)
    # max_in_flight 50 % of 4: two now, the third in the next operation.
    assert dispatcher.starts[0][2] == (unit("0").key, unit("1").key)
    dispatcher.finish_all()
    run(healer, clock, 5)
    assert dispatcher.starts[-1][2] == (unit("2").key,)


def _lose_ten(tmp_path, clock, dispatcher, max_unhealthy):
    policy = Policy(max_in_flight=Threshold.parse("3", "max_in_flight"),
                    max_unhealthy=Threshold.parse(max_unhealthy),
                    cooldown=0)
    healer = make_healer(tmp_path, policy, clock=clock,
                         dispatcher=dispatcher)
    for i in range(10):
        healer.submit(request(unit(f"{i:02d}", size=10)))
    sizes = []
    for _ in range(10):
        run(healer, clock, 3)
        running = dispatcher.running()
        if not running:
            break
        sizes += [len(dispatcher.executions[r]["units"]) for r in running]
        dispatcher.finish_all()
        run(healer, clock, 1)
    return healer, sizes


def test_ten_of_ten_lost_is_a_storm_by_default(tmp_path, clock, dispatcher):
    _, sizes = _lose_ten(tmp_path, clock, dispatcher, "50%")
    assert sizes == []


def test_ten_of_ten_heal_three_at_a_time_when_the_storm_rule_allows(
        tmp_path, clock, dispatcher):
    _, sizes = _lose_ten(tmp_path, clock, dispatcher, "100%")
    assert sizes == [3, 3, 3, 1]


def test_max_in_flight_waits_are_named(tmp_path, clock, dispatcher):
    policy = Policy(max_in_flight=Threshold.parse("1", "max_in_flight"))
    healer = make_healer(tmp_path, policy, clock=clock,
                         dispatcher=dispatcher)
    healer.submit(request(unit("0", size=10)))
    healer.submit(request(unit("1", size=10)))
    out = run(healer, clock, 3)
    waits = [d for d in out if d.reason is Reason.MAX_IN_FLIGHT]
    assert [d.unit_key for d in waits] == [unit("1").key]


def test_stack_in_progress_blocks_a_retry(tmp_path, clock, dispatcher):
    statuses = StackStatuses()
    from vitrage_selfheal.healer import Healer
    base = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    healer = Healer(base.ledger, base.locks, dispatcher, statuses,
                    Policy(), clock, replica="r1")
    fail_first_execution(healer, clock, dispatcher)
    statuses[ROOT] = "UPDATE_IN_PROGRESS"     # a user's update
    out = run(healer, clock, 120)
    assert len(dispatcher.starts) == 1
    assert Reason.STACK_IN_PROGRESS in reasons(out)
    statuses[ROOT] = "UPDATE_COMPLETE"
    run(healer, clock, 2)
    assert len(dispatcher.starts) == 2
