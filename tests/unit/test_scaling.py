"""Scaling and healing on one per-stack queue: each rule of
operations/scaling.py, with an injected clock and a fake Heat group."""

from __future__ import annotations

import pytest

from tests.unit.fakes import (
    GROUP_STACK,
    ROOT,
    FakeGroups,
    make_healer,
    request,
    unit,
)
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import DispatchRefused, ExecState
from vitrage_selfheal.model import (
    GroupInfo,
    GroupRef,
    Intent,
    Reason,
    ScaleMethod,
    ScaleRequest,
)

GROUP = GroupRef(root_stack_id=ROOT, group_stack_id=GROUP_STACK)


def reasons(decisions):
    return [d.reason for d in decisions]


def capacity(size=4, min_size=1, max_size=6):
    return GroupInfo(size=size, min_size=min_size, max_size=max_size,
                     method=ScaleMethod.CAPACITY,
                     capacity_parameter="capacity",
                     parent_stack_id=ROOT, resource_name="asg")


def signal(size=4, min_size=1, max_size=6):
    return GroupInfo(size=size, min_size=min_size, max_size=max_size,
                     method=ScaleMethod.SIGNAL,
                     policies=(("scale_out", 1), ("scale_in", -1)),
                     parent_stack_id=ROOT, resource_name="asg")


def by(delta, manual=True):
    return ScaleRequest(group=GROUP, delta=delta, source="operator",
                        alarm_key="" if manual else "load", manual=manual,
                        detail="test")


def vote(name, intent=Intent.SCALE_OUT):
    what = "scale_out" if intent is Intent.SCALE_OUT else "scale_in"
    return request(unit(name), alarm=f"load-{what}", intent=intent,
                   name=f"selfheal.{what}: load")


@pytest.fixture
def groups():
    return FakeGroups({GROUP_STACK: capacity()})


@pytest.fixture
def healer(tmp_path, clock, dispatcher, groups):
    return make_healer(tmp_path, Policy(unit_grace=60, scale_cooldown=300),
                       clock=clock, dispatcher=dispatcher, groups=groups)


def tick(healer, clock, seconds=3.0):
    clock.advance(seconds)
    return healer.tick()


def only_running(dispatcher):
    (execution_id,) = dispatcher.running()
    return execution_id


def test_scale_out_runs_one_operation_and_the_new_unit_warms_up(
        healer, clock, dispatcher):
    assert reasons(healer.scale(by(1))) == [Reason.SCALE_OUT]
    out = tick(healer, clock)
    assert Reason.COALESCED in reasons(out)
    assert Reason.BATCH_DISPATCHED in reasons(out)
    ex = only_running(dispatcher)
    plan = dispatcher.scales[ex]
    assert (plan.method, plan.size_before, plan.target) == (
        ScaleMethod.CAPACITY, 4, 5)
    assert plan.capacity_parameter == "capacity"
    assert plan.group.resource_name == "asg"
    dispatcher.finish(ex, ExecState.SUCCESS, {"result": {
        "size_after": 5, "added": [{"stack_id": GROUP_STACK,
                                    "resource_name": "new1",
                                    "physical_id": "server-new1"}]}})
    assert Reason.SCALE_SUCCEEDED in reasons(tick(healer, clock))
    # The new unit is still booting: its first alarm waits out the grace.
    assert reasons(healer.submit(request(unit("new1")))) == [
        Reason.UNIT_GRACE]
    clock.advance(60)
    # Unhealthy since it came up: a failed start, healed once for it.
    assert Reason.STARTUP_TIMEOUT in reasons(healer.tick())


def test_bounds_come_from_the_group(healer, clock, dispatcher, groups):
    groups[GROUP_STACK] = capacity(size=6, max_size=6)
    healer.scale(by(2))
    assert Reason.AT_MAX in reasons(tick(healer, clock))
    groups[GROUP_STACK] = capacity(size=1, min_size=1)
    healer.scale(by(-1))
    assert Reason.AT_MIN in reasons(tick(healer, clock))
    groups[GROUP_STACK] = capacity(size=5, max_size=6)
    healer.scale(by(3))
    tick(healer, clock)
    assert dispatcher.scales[only_running(dispatcher)].target == 6


def test_unsupported_group_is_closed_with_the_reason(healer, clock, groups,
                                                     dispatcher):
    groups[GROUP_STACK] = GroupInfo(size=3, min_size=0, max_size=None,
                                    unsupported="asg: no way")
    healer.scale(by(1))
    out = tick(healer, clock)
    assert Reason.SCALE_UNSUPPORTED in reasons(out)
    assert dispatcher.starts == []


def test_unreadable_group_waits_and_is_not_lost(healer, clock, groups,
                                                dispatcher):
    del groups[GROUP_STACK]
    healer.scale(by(1))
    assert Reason.GROUP_UNREADABLE in reasons(tick(healer, clock))
    assert tick(healer, clock) == []          # logged once per change
    groups[GROUP_STACK] = capacity()
    assert Reason.BATCH_DISPATCHED in reasons(tick(healer, clock))


def test_votes_of_many_units_merge_into_one_request(healer, clock,
                                                    dispatcher):
    assert reasons(healer.submit(vote("0"))) == [Reason.SCALE_OUT]
    assert reasons(healer.submit(vote("1"))) == [Reason.SCALE_MERGED]
    assert reasons(healer.submit(vote("0"))) == [Reason.DUPLICATE]
    tick(healer, clock)
    assert len(dispatcher.starts) == 1
    assert dispatcher.scales[only_running(dispatcher)].target == 5


def test_operator_requests_add_up_votes_do_not(healer, clock, dispatcher):
    healer.scale(by(1))
    assert reasons(healer.scale(by(1))) == [Reason.SCALE_MERGED]
    tick(healer, clock)
    assert dispatcher.scales[only_running(dispatcher)].target == 6


def test_alarm_votes_wait_out_the_scale_cooldown(healer, clock,
                                                 dispatcher):
    healer.submit(vote("0"))
    tick(healer, clock)
    dispatcher.finish_all()
    tick(healer, clock)
    healer.submit(request(unit("0"), alarm="load-scale_out",
                          intent=Intent.SCALE_OUT, active=False))
    assert reasons(healer.submit(vote("0"))) == [Reason.SCALE_COOLDOWN]
    # An operator is not held by it.
    assert reasons(healer.scale(by(1))) == [Reason.SCALE_OUT]


def test_opposite_direction_replaces_a_queued_request(healer):
    healer.scale(by(1))
    out = healer.scale(by(-1))
    assert reasons(out) == [Reason.SCALE_IN]
    assert "replaces queued request" in out[0].detail


def test_heal_and_scale_out_within_a_second_are_one_update(
        healer, clock, dispatcher):
    healer.submit(request(unit("0")))
    clock.advance(0.5)
    healer.scale(by(1))
    tick(healer, clock)
    assert len(dispatcher.starts) == 1
    ex, _, units = dispatcher.starts[0]
    assert units == (unit("0").key,)
    plan = dispatcher.scales[ex]
    assert (plan.target, plan.victims) == (5, ())
    dispatcher.finish(ex, ExecState.SUCCESS, {"result": {
        "size_after": 5, "added": [],
        "replaced": [{"stack_id": GROUP_STACK, "resource_name": "0",
                      "new_physical_id": "server-0b"}]}})
    out = tick(healer, clock)
    assert Reason.EXECUTION_SUCCEEDED in reasons(out)
    assert Reason.SCALE_SUCCEEDED in reasons(out)


def test_signal_scale_waits_for_queued_heals_never_two_at_once(
        healer, clock, dispatcher, groups):
    groups[GROUP_STACK] = signal()
    healer.submit(request(unit("0")))
    healer.scale(by(1))
    out = tick(healer, clock)
    assert Reason.STACK_BUSY in reasons(out)
    (heal,) = dispatcher.running()
    assert heal not in dispatcher.scales
    tick(healer, clock)
    assert dispatcher.running() == [heal]     # the scale still waits
    dispatcher.finish(heal, ExecState.SUCCESS)
    tick(healer, clock)                       # heal settles
    tick(healer, clock)                       # scale forms and starts
    (scale,) = dispatcher.running()
    plan = dispatcher.scales[scale]
    assert (plan.method, plan.policy, plan.target) == (
        ScaleMethod.SIGNAL, "scale_out", 5)


def test_scale_in_removes_queued_unhealthy_units_first(healer, clock,
                                                       dispatcher):
    healer.submit(request(unit("2")))
    healer.submit(request(unit("3")))
    healer.scale(by(-1))
    tick(healer, clock)
    (ex,) = dispatcher.running()
    plan = dispatcher.scales[ex]
    assert plan.target == 3
    assert plan.victims == (unit("2").key,)
    # Only the victim is marked: Heat removes the oldest FAILED member,
    # which could be another marked unit. The other heal goes next.
    assert dispatcher.starts[0][2] == (unit("2").key,)
    dispatcher.finish(ex, ExecState.SUCCESS, {"result": {"size_after": 3}})
    out = tick(healer, clock)
    assert [d.unit_key for d in out
            if d.reason is Reason.REMOVED_BY_SCALE_IN] == [unit("2").key]
    assert Reason.EXECUTION_SUCCEEDED not in reasons(out)
    tick(healer, clock)
    (heal,) = dispatcher.running()
    assert dispatcher.executions[heal]["units"] == (unit("3").key,)
    assert heal not in dispatcher.scales


def test_heal_during_a_scale_waits_and_runs_after(healer, clock,
                                                  dispatcher):
    healer.scale(by(1))
    tick(healer, clock)
    (scale,) = dispatcher.running()
    assert reasons(healer.submit(request(unit("0")))) == [Reason.FIRST_HEAL]
    out = tick(healer, clock)
    assert Reason.STACK_BUSY in reasons(out)
    assert dispatcher.running() == [scale]
    dispatcher.finish(scale, ExecState.SUCCESS, {"result": {}})
    tick(healer, clock)
    tick(healer, clock)
    (heal,) = dispatcher.running()
    assert heal != scale and heal not in dispatcher.scales


def test_scale_in_never_removes_a_unit_being_healed(healer, clock,
                                                    dispatcher):
    healer.submit(request(unit("0")))
    tick(healer, clock)
    (heal,) = dispatcher.running()
    healer.scale(by(-1))
    assert Reason.STACK_BUSY in reasons(tick(healer, clock))
    assert dispatcher.running() == [heal]
    dispatcher.finish(heal, ExecState.SUCCESS)
    tick(healer, clock)
    tick(healer, clock)
    (scale,) = dispatcher.running()
    assert unit("0").key not in dispatcher.scales[scale].victims


def test_a_recovered_victim_leaves_the_scale_which_still_runs(
        healer, clock, dispatcher):
    healer.submit(request(unit("2")))
    healer.scale(by(-1))
    dispatcher.start_error = DispatchRefused("HTTP 400 (test)")
    out = tick(healer, clock)
    assert Reason.DISPATCH_FAILED in reasons(out)    # formed, not started
    out = healer.submit(request(unit("2"), active=False))
    assert "left scale operation" in out[0].detail
    dispatcher.start_error = None
    tick(healer, clock, 60)                           # past the backoff
    (ex,) = dispatcher.running()
    assert dispatcher.scales[ex].victims == ()
    assert dispatcher.scales[ex].target == 3
    assert dispatcher.executions[ex]["units"] == ()


def test_failed_scale_retries_then_opens_the_breaker(tmp_path, clock,
                                                     dispatcher, groups):
    healer = make_healer(tmp_path, Policy(max_attempts=2, retry_backoff=10),
                         clock=clock, dispatcher=dispatcher, groups=groups)
    healer.scale(by(1))
    tick(healer, clock)
    dispatcher.finish_all(ExecState.ERROR, {"failure": {"step": "update"}})
    assert Reason.RETRY_BACKOFF in reasons(tick(healer, clock))
    tick(healer, clock, 11)
    dispatcher.finish_all(ExecState.ERROR, {"failure": {"step": "update"}})
    out = tick(healer, clock)
    assert Reason.EXECUTION_FAILED in reasons(out)
    with healer.ledger.transaction() as tx:
        assert tx.open_scales() == []
        assert tx.hold_for(ROOT) is not None
