"""The escalation ladder (reboot -> rebuild -> replace), its per-unit
budget, fencing and the quorum guard, on a FakeClock."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.fakes import make_healer, reasons, request, ticks, unit
from vitrage_selfheal.decide.ladder import next_step
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.steps import (
    DEFAULT_LADDER,
    Step,
    format_ladder,
    parse_ladder,
)
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.model import Action, Reason, UnitRecord

LADDER = parse_ladder("reboot:60>rebuild:120>replace")




def only_running(dispatcher):
    (running,) = dispatcher.running()
    return running


def ladder_healer(tmp_path, clock, dispatcher, **policy):
    return make_healer(tmp_path, Policy(
        remediation_ladder=LADDER, cooldown=300, unit_grace=0,
        **policy), clock=clock, dispatcher=dispatcher)


# -- the spec -----------------------------------------------------------------
def test_ladder_specs_parse_print_and_refuse_with_the_reason():
    assert LADDER == (Step("reboot", 60), Step("rebuild", 120),
                      Step("replace"))
    assert format_ladder(LADDER) == "reboot:60>rebuild:120>replace"
    assert parse_ladder("Reboot > replace") == (Step("reboot", 300),
                                                Step("replace"))
    assert parse_ladder("replace") == DEFAULT_LADDER
    for bad, named in [("", "empty"), ("reboot", "must end with"),
                       ("reimage>replace", "unknown step 'reimage'"),
                       ("reboot:soon>replace", "'soon' is not a number"),
                       ("reboot:0>replace", "a timeout > 0"),
                       ("replace:5", "takes no timeout"),
                       ("reboot>reboot>replace", "appears twice"),
                       ("replace>reboot>replace", "appears twice")]:
        with pytest.raises(ValueError, match=named):
            parse_ladder(bad)


def test_a_stack_tag_sets_its_ladder_and_a_bad_one_is_named(caplog):
    from vitrage_selfheal.decide.overrides import policy_for
    record = UnitRecord(unit_key="g/u", root_stack_id="r", stack_id="g",
                        resource_name="u", group_key="g",
                        controls="enabled,ladder=reboot:30>replace")
    assert policy_for(Policy(), record.controls).remediation_ladder == (
        Step("reboot", 30), Step("replace"))
    ladder = policy_for(Policy(remediation_ladder=LADDER),
                        "ladder=reboot").remediation_ladder
    assert ladder == LADDER and "selfheal:ladder=reboot ignored" in \
        caplog.text
    # An open sequence goes on; one whose step left the ladder ends in
    # the last step.
    assert next_step(record, LADDER) == (Step("reboot", 60), False)
    assert next_step(dataclasses.replace(record, remedy="reboot"),
                     LADDER) == (Step("rebuild", 120), True)
    assert next_step(dataclasses.replace(record, remedy="rebuild"),
                     (Step("reboot", 9), Step("replace"))) == (
        Step("replace"), True)


# -- the ladder, end to end ---------------------------------------------------
def test_reboot_that_heals_is_remediated_and_never_replaced(
        tmp_path, clock, dispatcher):
    healer = ladder_healer(tmp_path, clock, dispatcher)
    out = healer.submit(request(unit("0")))
    assert reasons(out) == [Reason.FIRST_HEAL]
    assert "for step reboot:60" in out[0].detail
    out = ticks(healer, clock)
    assert reasons(out) == [Reason.COALESCED, Reason.BATCH_DISPATCHED]
    reboot = only_running(dispatcher)
    assert dispatcher.steps == {reboot: "reboot"}
    dispatcher.finish(reboot, ExecState.SUCCESS)
    out = ticks(healer, clock, n=1)
    assert reasons(out) == [Reason.VERIFYING]
    assert out[0].action is Action.HOLD and out[0].until == clock.now() + 60
    # The alarm clears while the server boots, comes back, clears again:
    # nothing is decided before the step's timeout.
    healer.submit(request(unit("0"), active=False))
    assert reasons(healer.submit(request(unit("0")))) == [Reason.VERIFYING]
    healer.submit(request(unit("0"), active=False))
    assert reasons(ticks(healer, clock, n=10, seconds=5)) == []
    out = ticks(healer, clock, n=3, seconds=5)
    assert reasons(out) == [Reason.REMEDIATED]
    assert dispatcher.distinct == {reboot}
    # The sequence ended: the next fault starts at the first step again.
    clock.advance(1000)
    out = healer.submit(request(unit("0"), alarm="a2"))
    assert reasons(out) == [Reason.FIRST_HEAL]
    ticks(healer, clock)
    assert sorted(dispatcher.steps.values()) == ["reboot", "reboot"]


def test_unhealthy_after_each_step_climbs_to_replace(
        tmp_path, clock, dispatcher):
    healer = ladder_healer(tmp_path, clock, dispatcher)
    healer.submit(request(unit("0")))
    seen = ticks(healer, clock)
    for step, timeout in (("reboot", 60), ("rebuild", 120)):
        execution = only_running(dispatcher)
        assert dispatcher.steps[execution] == step
        dispatcher.finish(execution, ExecState.SUCCESS)
        seen += ticks(healer, clock, n=1)
        # Still unhealthy at the timeout: the next step.
        seen += ticks(healer, clock, n=int(timeout / 10) + 3, seconds=10)
    replace = only_running(dispatcher)
    assert replace not in dispatcher.steps
    dispatcher.finish(replace, ExecState.SUCCESS)
    seen += ticks(healer, clock, n=1)
    assert reasons(seen) == [
        Reason.COALESCED, Reason.BATCH_DISPATCHED, Reason.VERIFYING,
        Reason.ESCALATED, Reason.COALESCED, Reason.BATCH_DISPATCHED,
        Reason.VERIFYING,
        Reason.ESCALATED, Reason.COALESCED, Reason.BATCH_DISPATCHED,
        Reason.EXECUTION_SUCCEEDED]
    escalated = [d for d in seen if d.reason is Reason.ESCALATED]
    assert "reboot did not heal it" in escalated[0].detail
    assert "for step replace" in escalated[1].detail
    assert len(dispatcher.distinct) == 3
    # Replaced: the sequence is over and the cooldown holds the next one.
    clock.advance(1)
    assert reasons(healer.submit(request(unit("0"), alarm="a2"))) == [
        Reason.COOLDOWN]


def test_a_failed_step_escalates_at_once_without_retry_or_breaker(
        tmp_path, clock, dispatcher):
    healer = ladder_healer(tmp_path, clock, dispatcher)
    healer.submit(request(unit("0")))
    ticks(healer, clock)
    reboot = only_running(dispatcher)
    dispatcher.finish(reboot, ExecState.ERROR, {"failure": {
        "step": "reboot", "message": "server s is ERROR, not ACTIVE"}})
    out = ticks(healer, clock, n=3)
    assert reasons(out) == [Reason.ESCALATED, Reason.ESCALATED,
                            Reason.ESCALATED, Reason.COALESCED,
                            Reason.BATCH_DISPATCHED]
    assert out[0].action is Action.FAIL and "ERROR, not ACTIVE" in \
        out[0].detail
    assert out[1].action is Action.HOLD
    assert out[2].action is Action.ACCEPT
    assert "for step rebuild" in out[2].detail
    assert dispatcher.steps[only_running(dispatcher)] == "rebuild"
    with healer.ledger.transaction() as tx:
        assert tx.hold_for(unit("0").root_stack_id) is None


def test_a_unit_without_physical_id_skips_to_replace(tmp_path, clock,
                                                     dispatcher):
    healer = ladder_healer(tmp_path, clock, dispatcher)
    bare = dataclasses.replace(unit("0"), physical_id=None)
    out = healer.submit(request(bare))
    assert "for step replace (no physical id to reboot)" in out[0].detail
    ticks(healer, clock)
    assert dispatcher.steps == {} and len(dispatcher.distinct) == 1


def test_units_at_different_steps_go_in_separate_operations(
        tmp_path, clock, dispatcher):
    healer = ladder_healer(tmp_path, clock, dispatcher)
    healer.submit(request(unit("0")))
    ticks(healer, clock)
    dispatcher.finish(only_running(dispatcher), ExecState.ERROR)
    healer.submit(request(unit("1")))
    out = ticks(healer, clock)
    # unit 1 queued first (a reboot); unit 0's rebuild goes after it.
    first = only_running(dispatcher)
    assert dispatcher.steps[first] == "reboot"
    assert dispatcher.executions[first]["units"] == (unit("1").key,)
    assert Reason.STACK_BUSY in reasons(out)
    dispatcher.finish(first, ExecState.SUCCESS)
    ticks(healer, clock)
    second = only_running(dispatcher)
    assert dispatcher.steps[second] == "rebuild"
    assert dispatcher.executions[second]["units"] == (unit("0").key,)


def test_the_budget_holds_a_unit_that_keeps_needing_remedies(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(
        remediation_ladder=parse_ladder("reboot:30>replace"), cooldown=0,
        unit_grace=0, flap_max_heals=100, max_remediations_per_unit=3,
        remediation_window=3600), clock=clock, dispatcher=dispatcher)
    # A reboot that fails, then a replacement: two steps.
    healer.submit(request(unit("0")))
    ticks(healer, clock)
    dispatcher.finish(only_running(dispatcher), ExecState.ERROR)
    ticks(healer, clock)
    dispatcher.finish(only_running(dispatcher), ExecState.SUCCESS)
    ticks(healer, clock)
    # A new fault: a reboot that works, the third step.
    clock.advance(60)
    assert reasons(healer.submit(request(unit("0"), alarm="a2"))) == [
        Reason.FIRST_HEAL]
    ticks(healer, clock)
    dispatcher.finish(only_running(dispatcher), ExecState.SUCCESS)
    healer.submit(request(unit("0"), alarm="a2", active=False))
    assert Reason.REMEDIATED in reasons(ticks(healer, clock, n=5,
                                              seconds=10))
    # The fourth within the hour is held, not looped.
    out = healer.submit(request(unit("0"), alarm="a3"))
    assert reasons(out) == [Reason.REMEDIATION_BUDGET]
    assert out[0].action is Action.HOLD and \
        "3 remediation steps within 3600s" in out[0].detail
    assert len(dispatcher.distinct) == 3


# -- fencing and quorum -------------------------------------------------------
def test_a_fence_tagged_stack_fences_before_replacing(tmp_path, clock,
                                                     dispatcher):
    healer = make_healer(tmp_path, Policy(unit_grace=0,
                                          safe_time_to_assume_dead=42),
                         clock=clock, dispatcher=dispatcher)
    fenced = dataclasses.replace(unit("0"), controls="fence")
    healer.submit(request(fenced))
    out = ticks(healer, clock)
    assert dispatcher.fences == {only_running(dispatcher): 42}
    assert "fencing first" in [d for d in out if d.reason is
                               Reason.BATCH_DISPATCHED][0].detail
    healer.submit(request(unit("1", root="other", stack="g2")))
    ticks(healer, clock)
    assert len(dispatcher.fences) == 1 and len(dispatcher.distinct) == 2


def test_quorum_group_heals_one_member_at_a_time_and_never_without_quorum(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(unit_grace=0, min_heal_allowed=5),
                         clock=clock, dispatcher=dispatcher)

    def member(name):
        return dataclasses.replace(unit(name, size=5), controls="quorum")
    healer.submit(request(member("0")))
    healer.submit(request(member("1")))
    out = ticks(healer, clock)
    assert [len(s[2]) for s in dispatcher.starts] == [1]
    assert Reason.MAX_IN_FLIGHT in reasons(out)
    # A third sick member: 2 of 5 healthy, fewer than a majority of 3.
    out = healer.submit(request(member("2")))
    assert reasons(out) == [Reason.QUORUM_GUARD]
    assert "2 of 5 units healthy" in out[0].detail
    dispatcher.finish_all()
    ticks(healer, clock)
    # Member 0 replaced: 3 of 5 healthy again, so member 1 goes next, and
    # alone; member 2 is reconsidered and waits for it.
    assert [s[2] for s in dispatcher.starts] == [(member("0").key,),
                                                 (member("1").key,)]


def test_one_unit_the_step_missed_escalates_alone(tmp_path, clock,
                                                 dispatcher):
    healer = ladder_healer(tmp_path, clock, dispatcher)
    healer.submit(request(unit("0")))
    healer.submit(request(unit("1")))
    ticks(healer, clock)
    reboot = only_running(dispatcher)
    assert dispatcher.executions[reboot]["units"] == (unit("0").key,
                                                      unit("1").key)
    dispatcher.finish(reboot, ExecState.SUCCESS, {"result": {
        "step": "reboot", "failed": [{"unit_key": unit("1").key,
                                      "message": "server s1 is ERROR"}]}})
    out = ticks(healer, clock)
    by_unit = {(d.unit_key, d.reason) for d in out}
    assert (unit("0").key, Reason.VERIFYING) in by_unit
    assert (unit("1").key, Reason.ESCALATED) in by_unit
    rebuild = only_running(dispatcher)
    assert dispatcher.steps[rebuild] == "rebuild"
    assert dispatcher.executions[rebuild]["units"] == (unit("1").key,)


# -- the pre-replace hook -----------------------------------------------------
def test_the_hook_is_asked_and_an_abandon_holds_without_a_breaker(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(
        unit_grace=0, cooldown=60, pre_replace_hook="app.drain",
        pre_replace_timeout=90, pre_replace_default="ABANDON"),
        clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0")))
    ticks(healer, clock)
    heal = only_running(dispatcher)
    hook = dispatcher.hooks[heal]
    assert (hook.workflow, hook.timeout, hook.default) == (
        "app.drain", 90, "ABANDON")
    dispatcher.finish(heal, ExecState.ERROR, {"failure": {
        "step": "pre_replace_hook",
        "message": "the pre-replace hook app.drain answered ABANDON"}})
    out = ticks(healer, clock, n=1)
    assert reasons(out) == [Reason.HOOK_ABANDONED, Reason.HOOK_ABANDONED]
    assert out[1].action is Action.HOLD and "answered ABANDON" in \
        out[1].detail and out[1].until == clock.now() + 60
    with healer.ledger.transaction() as tx:
        assert tx.hold_for(unit("0").root_stack_id) is None
    # Still unhealthy after the cooldown: asked again.
    out = ticks(healer, clock, n=25)
    assert Reason.FIRST_HEAL in reasons(out)
    assert len(dispatcher.hooks) == 2


def test_no_hook_for_a_reboot(tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(
        unit_grace=0, pre_replace_hook="app.drain",
        remediation_ladder=LADDER), clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0")))
    ticks(healer, clock)
    assert dispatcher.steps and not dispatcher.hooks


# -- per-stack settings -------------------------------------------------------
def test_a_stack_tag_overrides_a_per_stack_option(tmp_path, clock,
                                                  dispatcher, caplog):
    from vitrage_selfheal.decide.overrides import policy_for
    policy = Policy(unit_grace=120, cooldown=300)
    own = policy_for(policy, "fence,unit_grace=600,cooldown=oops,"
                             "max_in_flight=9")
    # A bad value is named and the global one applies; an option that is
    # not per stack is not read from tags at all.
    assert (own.unit_grace, own.cooldown, own.max_in_flight) == (
        600, 300, policy.max_in_flight)
    assert "selfheal:cooldown=oops ignored" in caplog.text
    assert policy_for(policy, "fence") is policy
    healer = make_healer(tmp_path, Policy(unit_grace=0, cooldown=300),
                         clock=clock, dispatcher=dispatcher)
    tagged = dataclasses.replace(unit("0"), controls="cooldown=30")
    healer.submit(request(tagged))
    ticks(healer, clock)
    dispatcher.finish_all()
    out = ticks(healer, clock, n=1)
    assert "cooldown 30s" in out[0].detail
    clock.advance(31)
    assert reasons(healer.submit(request(tagged, alarm="a2"))) == [
        Reason.FIRST_HEAL]
