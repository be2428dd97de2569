"""A stack's operations run under its owner's trust: the trust id reaches
the dispatcher, a refused trust holds the stack TRUST_INVALID (nothing
lost, nothing counted as an attempt) and a new trust releases it."""

from __future__ import annotations

from tests.unit.fakes import ROOT, RecordingDispatcher, make_healer, request
from tests.unit.fakes import unit as unit_of
from vitrage_selfheal import operator
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.dispatch.trusts import TrustInvalid
from vitrage_selfheal.model import Reason


class TrustingDispatcher(RecordingDispatcher):
    """Mistral behind Keystone: a start under a revoked trust is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.revoked: set[str] = set()
        self.trusts: list[str] = []

    def start(self, execution_id, root_stack_id, units, reason,
              scale=None, trust_id=None):
        if trust_id in self.revoked:
            raise TrustInvalid(f"Keystone refused trust {trust_id}: "
                               f"Unauthorized")
        self.trusts.append(trust_id)
        return super().start(execution_id, root_stack_id, units, reason,
                             scale)


def reasons(decisions):
    return [d.reason for d in decisions]


def test_revoked_trust_holds_then_a_new_trust_heals(tmp_path):
    clock, dispatcher = FakeClock(), TrustingDispatcher()
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    operator.trust_stored(healer.ledger, clock.now(), ROOT, "t-1", "owner",
                          "project")
    healer.submit(request(unit_of("0")))
    clock.advance(3)
    healer.tick()
    assert dispatcher.trusts == ["t-1"]
    dispatcher.finish_all()
    clock.advance(1)
    healer.tick()

    dispatcher.revoked.add("t-1")
    clock.advance(400)                      # past the cooldown
    healer.submit(request(unit_of("1")))
    clock.advance(3)
    out = healer.tick()
    assert Reason.TRUST_INVALID in reasons(out)
    assert len(dispatcher.starts) == 1
    # Held, visible, and not an attempt: no retry, no breaker.
    with healer.ledger.transaction() as tx:
        hold = tx.hold_for(ROOT)
        assert hold.kind == "trust" and "t-1" in hold.reason
        (batch,) = tx.open_batches()
        assert (batch.attempt, batch.wait_reason) == (1, "TRUST_INVALID")
    clock.advance(3600)
    assert healer.tick() == []
    assert len(dispatcher.starts) == 1
    # New alarms on the stack are held with the same reason.
    assert reasons(healer.submit(request(unit_of("2")))) == [
        Reason.TRUST_INVALID]

    assert operator.trust_stored(healer.ledger, clock.now(), ROOT, "t-2",
                                 "owner", "project") == 1
    clock.advance(1)
    out = healer.tick()
    assert Reason.BATCH_DISPATCHED in reasons(out)
    assert dispatcher.trusts == ["t-1", "t-2"]
    dispatcher.finish_all(ExecState.SUCCESS)
    clock.advance(3)
    out = healer.tick()
    clock.advance(3)
    out += healer.tick()
    healed = {d.unit_key for d in out
              if d.reason is Reason.EXECUTION_SUCCEEDED}
    assert unit_of("1").key in healed


def test_without_a_trust_nothing_is_passed(tmp_path):
    clock, dispatcher = FakeClock(), TrustingDispatcher()
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit_of("0")))
    clock.advance(3)
    healer.tick()
    assert dispatcher.trusts == [None]


def test_forgetting_a_trust(tmp_path):
    healer = make_healer(tmp_path)
    operator.trust_stored(healer.ledger, 0.0, ROOT, "t-1", "owner", "p")
    assert operator.trust_dropped(healer.ledger, ROOT) == "t-1"
    assert operator.trust_dropped(healer.ledger, ROOT) is None
