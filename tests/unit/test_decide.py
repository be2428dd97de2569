"""Each stage and each reason of the decision layer, with an injected clock."""

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
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.ledger.spool import Spool
from vitrage_selfheal.model import Action, Intent, Reason


def reasons(decisions):
    return [d.reason for d in decisions]


def settle(healer, clock, seconds=3.0):
    clock.advance(seconds)
    return healer.tick()


def healed(healer, clock, dispatcher, u, alarm="a1"):
    """The unit's alarm admitted, its heal started, finished and seen."""
    healer.submit(request(u, alarm=alarm))
    settle(healer, clock)
    dispatcher.finish_all()
    healer.tick()


@pytest.fixture
def healer(tmp_path, clock, dispatcher):
    return make_healer(tmp_path, clock=clock, dispatcher=dispatcher)


def test_first_heal_is_queued_then_dispatched_once(healer, clock, dispatcher):
    assert reasons(healer.submit(request(unit("0")))) == [Reason.FIRST_HEAL]
    assert healer.tick() == []          # still inside the coalescing window
    out = settle(healer, clock)
    assert Reason.COALESCED in reasons(out)
    assert Reason.BATCH_DISPATCHED in reasons(out)
    assert len(dispatcher.starts) == 1
    execution_id, root, units = dispatcher.starts[0]
    assert root == ROOT and units == (unit("0").key,)


def test_repeated_notification_is_duplicate(healer):
    healer.submit(request(unit("0")))
    assert reasons(healer.submit(request(unit("0")))) == [Reason.DUPLICATE]


def test_second_alarm_on_a_healing_unit_is_already_healing(healer, clock):
    healer.submit(request(unit("0"), alarm="a1"))
    decision, = healer.submit(request(unit("0"), alarm="a2"))
    assert decision.reason is Reason.ALREADY_HEALING
    settle(healer, clock)
    decision, = healer.submit(request(unit("0"), alarm="a3"))
    assert decision.reason is Reason.ALREADY_HEALING
    assert "BATCHED" in decision.detail


def test_units_of_one_stack_coalesce_into_one_execution(
        healer, clock, dispatcher):
    for name in ("0", "1"):
        healer.submit(request(unit(name, size=10)))
        clock.advance(0.5)
    settle(healer, clock)
    assert len(dispatcher.starts) == 1
    assert dispatcher.starts[0][2] == (unit("0").key, unit("1").key)


def test_units_arriving_while_a_heal_runs_form_the_next_batch(
        healer, clock, dispatcher):
    healer.submit(request(unit("0", size=10)))
    settle(healer, clock)
    healer.submit(request(unit("1", size=10)))
    out = settle(healer, clock)
    assert Reason.STACK_BUSY in reasons(out)
    assert len(dispatcher.starts) == 1
    dispatcher.finish_all()
    healer.tick()                      # the first batch succeeds
    out = healer.tick()                # the next batch forms and starts
    assert Reason.BATCH_DISPATCHED in reasons(out)
    assert len(dispatcher.starts) == 2
    assert dispatcher.starts[1][2] == (unit("1").key,)


def test_success_starts_cooldown_and_flapping_alarm_is_not_healed_again(
        healer, clock, dispatcher):
    u = unit("0")
    healer.submit(request(u))
    settle(healer, clock)
    dispatcher.finish_all()
    assert Reason.EXECUTION_SUCCEEDED in reasons(healer.tick())
    for _ in range(5):                 # clear/raise x5 within the cooldown
        healer.submit(request(u, active=False))
        clock.advance(10)
        out = healer.submit(request(u))
        assert reasons(out) == [Reason.COOLDOWN]
        settle(healer, clock)
    assert len(dispatcher.distinct) == 1


def test_still_unhealthy_after_cooldown_heals_again_until_flapping(
        tmp_path, clock, dispatcher):
    policy = Policy(cooldown=60, flap_max_heals=2, flap_window=3600,
                    unit_grace=0)
    healer = make_healer(tmp_path, policy, clock=clock, dispatcher=dispatcher)
    u = unit("0")
    healed(healer, clock, dispatcher, u)
    clock.advance(1)                   # the replacement breaks too
    assert reasons(healer.submit(request(u, alarm="b"))) == [Reason.COOLDOWN]
    clock.advance(61)                  # cooldown over, alarm still active
    out = healer.tick()
    assert Reason.FIRST_HEAL in reasons(out)
    settle(healer, clock)
    dispatcher.finish_all()
    healer.tick()
    assert len(dispatcher.distinct) == 2
    clock.advance(61)
    assert healer.tick() == []          # alarms answered by the last heal
    out = healer.submit(request(u, alarm="c"))
    assert reasons(out) == [Reason.FLAPPING]
    assert out[0].action is Action.HOLD and "2 heals" in out[0].detail
    clock.advance(30)
    assert healer.tick() == []          # unchanged hold is not re-logged
    assert len(dispatcher.distinct) == 2


def test_storm_guard_holds_group_and_heals_when_it_falls_back(
        tmp_path, clock, dispatcher):
    # No count floor here: the percentage alone decides.
    healer = make_healer(tmp_path, Policy(min_heal_allowed=1), clock=clock,
                         dispatcher=dispatcher)
    units = [unit(str(i), size=4) for i in range(4)]
    out = []
    for u in units[:3]:
        out += healer.submit(request(u))
    assert reasons(out) == [Reason.FIRST_HEAL, Reason.FIRST_HEAL,
                            Reason.STORM_GUARD]
    out = settle(healer, clock)
    assert reasons(out).count(Reason.STORM_GUARD) == 2
    assert dispatcher.starts == []
    # One unit recovers by itself: 2 of 4 is within 50 %.
    healer.submit(request(units[2], active=False))
    out = healer.tick()
    assert reasons(out).count(Reason.FIRST_HEAL) == 2
    settle(healer, clock)
    assert len(dispatcher.starts) == 1
    assert dispatcher.starts[0][2] == (units[0].key, units[1].key)


def test_storm_guard_count_threshold_and_unknown_group_size(tmp_path, clock):
    policy = Policy(max_unhealthy=Threshold.parse("1"), min_heal_allowed=1)
    healer = make_healer(tmp_path, policy, clock=clock)
    out = healer.submit(request(unit("0", size=None)))
    out += healer.submit(request(unit("1", size=None)))
    assert reasons(out) == [Reason.FIRST_HEAL, Reason.STORM_GUARD]
    assert "allows 1" in out[1].detail


def test_threshold_parse_rejects_nonsense():
    assert Threshold.parse("50%").limit(4, 2) == 2
    assert Threshold.parse("50%").limit(None, 2) == 2
    assert Threshold.parse("3").limit(100, 2) == 3
    for bad in ("0%", "150%", "-1", "lots", "0"):
        with pytest.raises(ValueError, match="max_unhealthy"):
            Threshold.parse(bad)


def test_stack_in_progress_waits_and_dispatches_when_settled(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    statuses = StackStatuses({ROOT: "UPDATE_IN_PROGRESS"})
    healer.status = statuses
    healer.submit(request(unit("0")))
    out = settle(healer, clock)
    assert reasons(out) == [Reason.STACK_IN_PROGRESS]
    assert settle(healer, clock) == []  # waiting is logged once
    statuses[ROOT] = "UPDATE_COMPLETE"
    assert Reason.BATCH_DISPATCHED in reasons(healer.tick())


def test_unreadable_stack_status_waits(tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)

    def broken(_stack):
        raise ConnectionError("heat down")

    healer.status = broken
    healer.submit(request(unit("0")))
    assert reasons(settle(healer, clock)) == [Reason.STACK_STATUS_UNKNOWN]
    assert dispatcher.starts == []


def test_global_rate_limit(tmp_path, clock, dispatcher):
    policy = Policy(max_dispatches_per_minute=1)
    healer = make_healer(tmp_path, policy, clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0", root="stack-a")))
    healer.submit(request(unit("0", root="stack-b", stack="group-b")))
    out = settle(healer, clock)
    assert reasons(out).count(Reason.BATCH_DISPATCHED) == 1
    assert Reason.RATE_LIMITED in reasons(out)
    clock.advance(61)
    assert Reason.BATCH_DISPATCHED in reasons(healer.tick())


def test_operator_hold_and_release(healer, clock, dispatcher):
    healer.hold("maintenance", root_stack_id=ROOT)
    assert reasons(healer.submit(request(unit("0")))) == [
        Reason.HELD_BY_OPERATOR]
    settle(healer, clock)
    assert dispatcher.starts == []
    healer.release(ROOT)
    assert Reason.FIRST_HEAL in reasons(healer.tick())
    settle(healer, clock)
    assert len(dispatcher.starts) == 1


def test_global_hold_taken_while_queued_stops_the_batch(
        healer, clock, dispatcher):
    healer.submit(request(unit("0")))
    healer.hold("freeze")
    assert reasons(settle(healer, clock)) == [Reason.HELD_BY_OPERATOR]
    assert dispatcher.starts == []


def test_failure_retries_with_backoff_then_opens_circuit(
        tmp_path, clock, dispatcher):
    policy = Policy(max_attempts=2, retry_backoff=10)
    healer = make_healer(tmp_path, policy, clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0")))
    settle(healer, clock)
    failure = {"failure": {"step": "update_stack", "http_status": 400,
                           "stack_status": "UPDATE_FAILED"}}
    dispatcher.finish_all(ExecState.ERROR, failure)
    out = healer.tick()
    assert reasons(out) == [Reason.RETRY_BACKOFF]
    assert "update_stack" in out[0].detail
    assert healer.tick() == []          # backing off
    clock.advance(10)
    out = healer.tick()
    assert reasons(out) == [Reason.BATCH_DISPATCHED]
    assert len(dispatcher.distinct) == 2  # a new id for attempt 2
    dispatcher.finish_all(ExecState.ERROR, failure)
    out = healer.tick()
    assert reasons(out) == [Reason.EXECUTION_FAILED, Reason.CIRCUIT_OPEN]
    # Further heals of the stack are held and say why.
    out = healer.submit(request(unit("1", size=10), alarm="x"))
    assert reasons(out) == [Reason.CIRCUIT_OPEN]
    assert "release --stack" in out[0].detail
    healer.release(ROOT)
    out = healer.tick()
    assert reasons(out).count(Reason.FIRST_HEAL) == 2


def test_stuck_execution_is_failed(tmp_path, clock, dispatcher):
    policy = Policy(execution_timeout=100, max_attempts=1)
    healer = make_healer(tmp_path, policy, clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0")))
    settle(healer, clock)
    clock.advance(101)
    assert Reason.EXECUTION_STUCK in reasons(healer.tick())


def test_mistral_down_keeps_the_heal_and_starts_it_later_with_same_id(
        healer, clock, dispatcher):
    dispatcher.down = True
    healer.submit(request(unit("0")))
    out = settle(healer, clock)
    assert Reason.DISPATCH_FAILED in reasons(out)
    assert "attempt 1/3" in out[-1].detail and "retry in 30s" in out[-1].detail
    assert healer.tick() == []          # backing off
    dispatcher.down = False
    clock.advance(30)
    out = healer.tick()
    assert Reason.BATCH_DISPATCHED in reasons(out)
    # The failed start may have reached Mistral: the retry asks for the
    # same id, so at worst Mistral hands back the one it has.
    assert len({s[0] for s in dispatcher.starts}) == 1
    assert len(dispatcher.distinct) == 1


def test_lost_execution_is_started_again_under_the_same_id(
        healer, clock, dispatcher):
    healer.submit(request(unit("0")))
    settle(healer, clock)
    (ex_id,) = dispatcher.distinct
    dispatcher.executions.clear()       # Mistral lost it
    assert reasons(healer.tick()) == [Reason.EXECUTION_LOST]
    out = healer.tick()                 # through the gate, then started
    assert Reason.BATCH_DISPATCHED in reasons(out)
    assert dispatcher.distinct == {ex_id}


def test_alarm_cleared_before_dispatch_cancels_the_heal(
        healer, clock, dispatcher):
    healer.submit(request(unit("0")))
    out = healer.submit(request(unit("0"), active=False))
    assert reasons(out) == [Reason.ALARM_CLEARED]
    assert "cancelled" in out[0].detail
    settle(healer, clock)
    assert dispatcher.starts == []


def test_root_cause_suppresses_then_heals_if_still_unhealthy(
        healer, clock, dispatcher):
    u = unit("0")
    switch = request(u, alarm="sw", intent=Intent.SUPPRESS,
                     name="selfheal.suppress: switch down")
    healer.submit(request(u))           # heal queued first ...
    out = healer.submit(switch)         # ... the root cause withdraws it
    assert reasons(out) == [Reason.SUPPRESSED_BY_ROOT_CAUSE]
    assert "queued heal cancelled" in out[0].detail
    assert reasons(healer.submit(request(u, alarm="a2"))) == [
        Reason.SUPPRESSED_BY_ROOT_CAUSE]
    settle(healer, clock)
    assert dispatcher.starts == []
    out = healer.submit(request(u, alarm="sw", intent=Intent.SUPPRESS,
                                active=False))
    assert reasons(out) == [Reason.ROOT_CAUSE_CLEARED]
    # Symptoms lag the root cause: held while it settles ...
    assert reasons(healer.tick()) == [Reason.ROOT_CAUSE_SETTLING]
    clock.advance(89)
    assert healer.tick() == []
    # ... and healed after it only because the unit is still unhealthy.
    clock.advance(1)
    assert Reason.FIRST_HEAL in reasons(healer.tick())
    settle(healer, clock)
    assert len(dispatcher.starts) == 1


def test_root_cause_clears_and_unit_recovered_releases_without_heal(
        healer, clock, dispatcher):
    u = unit("0")
    healer.submit(request(u, alarm="sw", intent=Intent.SUPPRESS))
    healer.submit(request(u, alarm="sw", intent=Intent.SUPPRESS,
                          active=False))
    assert reasons(healer.tick()) == [Reason.RELEASED]
    settle(healer, clock)
    assert dispatcher.starts == []


def test_a_scale_vote_without_a_heat_group_reader_waits(healer, clock,
                                                       dispatcher):
    out = healer.submit(request(unit("0"), intent=Intent.SCALE_OUT,
                                name="selfheal.scale_out: load"))
    assert reasons(out) == [Reason.SCALE_OUT]
    assert Reason.GROUP_UNREADABLE in reasons(settle(healer, clock))
    assert dispatcher.starts == []


def test_crash_between_decision_and_dispatch_resumes_without_duplicate(
        tmp_path, clock, dispatcher):
    first = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    first.submit(request(unit("0")))
    clock.advance(3)
    # Crash after the batch was persisted, before Mistral was called.
    first._form(ROOT)
    assert dispatcher.starts == []
    restarted = make_healer(tmp_path, clock=clock, dispatcher=dispatcher,
                            replica="r1-restarted")
    out = restarted.tick()
    assert Reason.BATCH_DISPATCHED in reasons(out)
    # And a crash after the start: the restart starts the same id again.
    restarted2 = make_healer(tmp_path, clock=clock, dispatcher=dispatcher,
                             replica="r1-again")
    with restarted2.ledger.transaction() as tx:
        tx.open_batches()[0].state = "INTENDED"
    restarted2.tick()
    assert len(dispatcher.distinct) == 1


def test_every_decision_is_persisted_with_its_reason(healer, clock):
    healer.submit(request(unit("0")))
    healer.submit(request(unit("0")))
    settle(healer, clock)
    with healer.ledger.transaction() as tx:
        rows = tx.decisions()
        counters = tx.counters()
    assert [r.reason for r in rows] == [
        "FIRST_HEAL", "DUPLICATE", "COALESCED", "BATCH_DISPATCHED"]
    assert counters["decisions.DUPLICATE"] == 1


def test_ledger_outage_spools_request_for_next_tick(healer, clock, dispatcher,
                                                    monkeypatch, tmp_path):
    real = healer.admission.submit
    calls = []

    def flaky(tx, req, now):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is gone")
        return real(tx, req, now)

    monkeypatch.setattr(healer.admission, "submit", flaky)
    healer.spool = Spool(str(tmp_path / "spool.jsonl"), 1 << 20)
    assert healer.submit_or_spool(request(unit("0"))) == []
    assert len(healer.spool) == 1
    assert Reason.FIRST_HEAL in reasons(healer.tick())
    assert len(healer.spool) == 0
    settle(healer, clock)
    assert len(dispatcher.starts) == 1


# -- exclusion and opt-in (Heat stack tags selfheal:*) -----------------------

def test_controls_are_the_words_of_selfheal_tags():
    from vitrage_selfheal.model import control_words, controls_from_tags
    assert controls_from_tags(["a", "selfheal:exclude", "selfheal:x"]) == \
        "exclude,x"
    assert controls_from_tags(None) == "" and controls_from_tags("x") == ""
    assert control_words("exclude,x") == {"exclude", "x"}
    assert control_words(None) == frozenset()


def tagged(name, controls, root=None):
    import dataclasses
    u = unit(name) if root is None else unit(name, root=root, stack="g2")
    return dataclasses.replace(u, controls=controls)


def test_a_stack_tagged_exclude_is_never_healed(tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(unit_grace=0), clock=clock,
                         dispatcher=dispatcher)
    out = healer.submit(request(tagged("0", "exclude")))
    assert [(d.action, d.reason) for d in out] == [
        (Action.SKIP, Reason.EXCLUDED)]
    assert "selfheal:exclude" in out[0].detail
    clock.advance(5)
    healer.tick()
    assert dispatcher.starts == []
    # Tags removed (the datasource says ""): the next alarm heals.
    healer.submit(request(tagged("0", ""), alarm="a2"))
    clock.advance(5)
    healer.tick()
    assert len(dispatcher.starts) == 1


def test_opt_in_heals_only_stacks_tagged_enabled(tmp_path, clock,
                                                dispatcher):
    healer = make_healer(tmp_path, Policy(unit_grace=0, opt_in=True),
                         clock=clock, dispatcher=dispatcher)
    assert [d.reason for d in healer.submit(request(tagged("0", "")))] == [
        Reason.EXCLUDED]
    # Unknown (a sender without the property) is not an opt-in either.
    assert [d.reason for d in healer.submit(request(tagged("1", None)))] == [
        Reason.EXCLUDED]
    assert [d.reason for d in healer.submit(
        request(tagged("2", "enabled", root="root-2")))] == [
        Reason.FIRST_HEAL]
    clock.advance(5)
    healer.tick()
    assert [s[1] for s in dispatcher.starts] == ["root-2"]


def test_a_queued_unit_whose_stack_gets_excluded_leaves_its_operation(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(unit_grace=0, coalesce_window=30),
                         clock=clock, dispatcher=dispatcher)
    healer.submit(request(tagged("0", "")))
    # Another alarm on it reports the stack's new tag before the start.
    healer.submit(request(tagged("0", "exclude"), alarm="a2"))
    clock.advance(31)
    out = healer.tick()
    assert Reason.EXCLUDED in [d.reason for d in out]
    assert dispatcher.starts == []


# -- startup timeout ---------------------------------------------------------

def test_a_replacement_that_never_becomes_healthy_is_not_replaced_again(
        tmp_path, clock, dispatcher):
    policy = Policy(cooldown=0, unit_grace=60, startup_timeout=120)
    healer = make_healer(tmp_path, policy, clock=clock, dispatcher=dispatcher)
    u = unit("0")
    healed(healer, clock, dispatcher, u)       # a running unit breaks
    assert len(dispatcher.distinct) == 1
    clock.advance(10)                          # its replacement never works
    out = healer.submit(request(u, alarm="b"))
    assert [(d.action, d.reason) for d in out] == [
        (Action.HOLD, Reason.UNIT_GRACE)]
    clock.advance(55)                          # grace over, not yet timeout
    out = healer.tick()
    assert reasons(out) == [Reason.STARTUP_TIMEOUT]
    assert out[0].action is Action.HOLD and "healed at" in out[0].detail
    clock.advance(60)                          # startup_timeout reached
    out = healer.tick()
    assert [(d.action, d.reason) for d in out] == [
        (Action.ACCEPT, Reason.STARTUP_TIMEOUT)]
    settle(healer, clock)
    dispatcher.finish_all()
    healer.tick()
    assert len(dispatcher.distinct) == 2
    clock.advance(10)                          # and that one fails to start
    healer.submit(request(u, alarm="c"))
    seen = []
    for _ in range(20):
        clock.advance(30)
        seen += healer.tick()
    held = [d for d in seen if d.reason is Reason.STARTUP_TIMEOUT
            and d.action is Action.HOLD and "not replaced again" in d.detail]
    assert len(held) == 1                      # said once, not re-logged
    assert len(dispatcher.distinct) == 2       # no loop
    # Its alarm clears: released; a later fault heals as usual.
    healer.submit(request(u, alarm="c", active=False))
    seen = []
    for _ in range(3):
        clock.advance(5)
        seen += healer.tick()
    assert Reason.RELEASED in reasons(seen)
    clock.advance(600)
    assert reasons(healer.submit(request(u, alarm="d"))) == [
        Reason.FIRST_HEAL]


def test_a_unit_that_recovers_during_startup_is_not_healed(
        tmp_path, clock, dispatcher):
    policy = Policy(cooldown=0, unit_grace=60, startup_timeout=300)
    healer = make_healer(tmp_path, policy, clock=clock, dispatcher=dispatcher)
    u = unit("0")
    healed(healer, clock, dispatcher, u)
    clock.advance(5)
    healer.submit(request(u, alarm="b"))       # booting: not ready yet
    clock.advance(100)
    healer.tick()
    healer.submit(request(u, alarm="b", active=False))   # came up fine
    for _ in range(20):
        clock.advance(30)
        healer.tick()
    assert len(dispatcher.distinct) == 1
