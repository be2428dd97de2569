"""Shadow mode: every decision made and recorded, nothing started; global
(policy) or per stack (`vitrage-selfheal shadow on|off`), with an injected
clock."""

from __future__ import annotations

from tests.unit.fakes import (
    GROUP_STACK,
    ROOT,
    FakeGroups,
    make_healer,
    reasons,
    request,
    ticks,
    unit,
)
from tests.unit.test_scaling import GROUP, by, capacity
from vitrage_selfheal import operator
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.model import Action, Reason, ScaleRequest

OTHER = "root-2"




def test_global_shadow_decides_everything_and_starts_nothing(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(shadow=True, cooldown=300,
                                          unit_grace=0),
                         clock=clock, dispatcher=dispatcher)
    assert reasons(healer.submit(request(unit("0")))) == [Reason.FIRST_HEAL]
    out = ticks(healer, clock)
    assert reasons(out) == [Reason.COALESCED, Reason.SHADOW]
    assert dispatcher.starts == []
    (shadow,) = [d for d in out if d.reason is Reason.SHADOW]
    assert shadow.action is Action.HOLD and "would have started" in \
        shadow.detail and shadow.unit_key == unit("0").key
    # A repeat of the alarm while shadowed is a named no-op, not a loop.
    assert reasons(ticks(healer, clock, n=10)) == []
    # Still unhealthy after the cooldown the heal would have started:
    # asked again, shadowed again.
    clock.advance(300)
    out = ticks(healer, clock)
    assert reasons(out) == [Reason.FIRST_HEAL, Reason.COALESCED,
                            Reason.SHADOW]
    assert dispatcher.starts == []
    # The alarm clears: released, nothing more.
    healer.submit(request(unit("0"), active=False))
    out = ticks(healer, clock)
    assert Reason.SHADOW not in reasons(out)
    with healer.ledger.transaction() as tx:
        rows = tx.decisions(reason="SHADOW")
        assert len(rows) == 2
        assert {tx.batch(d.batch_id).state for d in rows} == {"SHADOWED"}


def test_per_stack_shadow_then_live_is_one_command(tmp_path, clock,
                                                  dispatcher):
    healer = make_healer(tmp_path, Policy(cooldown=300, unit_grace=0),
                         clock=clock, dispatcher=dispatcher)
    operator.shadow(healer.ledger, clock.now(), True, ROOT, "trying it")
    healer.submit(request(unit("0")))
    healer.submit(request(unit("0", root=OTHER, stack="g2")))
    out = ticks(healer, clock)
    assert Reason.SHADOW in reasons(out)
    # The other stack is live.
    assert [s[1] for s in dispatcher.starts] == [OTHER]
    # `release` lifts holds and breakers, never shadow mode.
    operator.release(healer.ledger, clock.now(), ROOT)
    assert [s[1] for s in dispatcher.starts] == [OTHER]
    detail = operator.shadow(healer.ledger, clock.now(), False, ROOT)
    assert "1 unit(s) held SHADOW reconsidered" in detail
    out = ticks(healer, clock)
    assert Reason.BATCH_DISPATCHED in reasons(out)
    assert sorted(s[1] for s in dispatcher.starts) == sorted([OTHER, ROOT])
    with healer.ledger.transaction() as tx:
        modes = [d.detail for d in tx.decisions(reason="SHADOW_MODE")]
    assert len(modes) == 2 and "trying it" in modes[0]


def test_a_shadowed_scale_is_recorded_and_cools_down(tmp_path, clock,
                                                     dispatcher):
    healer = make_healer(tmp_path, Policy(shadow=True, scale_cooldown=300,
                                          unit_grace=0),
                         clock=clock, dispatcher=dispatcher,
                         groups=FakeGroups({GROUP_STACK: capacity()}))
    assert reasons(healer.scale(by(1))) == [Reason.SCALE_OUT]
    out = ticks(healer, clock)
    (shadow,) = [d for d in out if d.reason is Reason.SHADOW]
    assert "scale group" in shadow.detail and "4 -> 5" in shadow.detail
    assert dispatcher.starts == []
    # An alarm's next vote meets the cooldown the scale would have set.
    vote = ScaleRequest(group=GROUP, delta=1, source="aodh",
                        alarm_key="aodh:a")
    assert reasons(healer.scale(vote)) == [Reason.SCALE_COOLDOWN]


def test_a_running_execution_is_not_touched_when_shadow_goes_on(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(cooldown=300, unit_grace=0),
                         clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0")))
    ticks(healer, clock)
    (running,) = dispatcher.running()
    operator.shadow(healer.ledger, clock.now(), True, None, "freeze")
    dispatcher.finish(running, ExecState.SUCCESS, {"result": {}})
    out = ticks(healer, clock)
    assert Reason.EXECUTION_SUCCEEDED in reasons(out)
