"""Drives each open operation: gate and start it, follow it, cancel it
when stuck, retry it or give up.

Every transition is a compare-and-set on the operation's row and a
persisted decision, so two replicas driving the same operation (no lock
backend, or a lock lost) move it once. Never two executions on one root
stack: a new execution id is used only once the previous execution is
confirmed ended (or was never created), and a stuck one is cancelled and
confirmed terminal before the next attempt.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Optional

from vitrage_selfheal.decide.overrides import policy_for
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.steps import FENCE, REPLACE
from vitrage_selfheal.dispatch.base import (
    Dispatcher,
    DispatchError,
    ExecState,
    PreReplaceHook,
)
from vitrage_selfheal.dispatch.execution_id import execution_id_for
from vitrage_selfheal.dispatch.trusts import TrustInvalid
from vitrage_selfheal.ledger.store import (
    AttemptOutcome,
    LedgerTx,
)
from vitrage_selfheal.ledger.view import unit_record
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import (
    Action,
    BatchState,
    Decision,
    HoldKind,
    IntentState,
    Reason,
    ScalePlan,
    Unit,
    control_words,
    stack_scope,
)
from vitrage_selfheal.operations import outcome
from vitrage_selfheal.operations.following import Following, Transactions
from vitrage_selfheal.operations.gate import Gate, StatusReader, read_status
from vitrage_selfheal.operations.queue import (
    close_operation,
    intent_incidents,
    leave,
    scale_incident,
    startable,
    step_of_kind,
    vertex_ids,
)
from vitrage_selfheal.operations.scaling import drop_victims, stored_plan

LOG = logging.getLogger(__name__)

# How long a replica may take to start an execution before another
# replica may try (with the same id, so at worst Mistral dedups it).
START_LEASE = 60.0

@dataclasses.dataclass(frozen=True)
class _Start:
    id: str
    root_stack_id: str
    execution_id: str
    attempt: int
    units: tuple[Unit, ...]
    reason: str
    scale: Optional[ScalePlan] = None
    trust_id: Optional[str] = None
    shadow: bool = False
    # A ladder step other than replace (reboot, rebuild), or None.
    step: Optional[str] = None
    # Fence (stop) the old servers before their replacement is created.
    fence: bool = False


class Runner(Following):
    def __init__(self, dispatcher: Dispatcher, policy: Policy, gate: Gate,
                 replica: str = "local",
                 counters: Optional[Counters] = None,
                 follow_interval: float = 0.0) -> None:
        self.dispatcher = dispatcher
        self.policy = policy
        self.gate = gate
        self.replica = replica
        self.counters = counters if counters is not None else Counters()
        # Reading a running execution at most this often; after a failed
        # read, exponentially less often (Mistral down must not be
        # hammered every tick).
        self.follow_interval = follow_interval
        self._follow_errors: dict[str, tuple[str, int]] = {}
        self._next_follow: dict[str, float] = {}

    def advance(self, ledger: Transactions, batch_id: str, now: float,
                status: StatusReader) -> list[Decision]:
        """One step for one open operation.

        No lock is needed around it: every transition is a
        compare-and-set. `ledger` may serialise its transactions (the
        healer's hold the stack's lock); no network call is made inside
        one.
        """
        with ledger.transaction() as tx:
            batch = tx.batch(batch_id)
            if batch is None or batch.state not in BatchState.OPEN:
                return []
            state, root = batch.state, batch.root_stack_id
            due = state == BatchState.INTENDED or (
                state == BatchState.RETRY_WAIT
                and now >= (batch.next_try_at or 0))
            execution_id = batch.execution_id
        if due:
            return self._start(ledger, batch_id, now,
                               read_status(status, root))
        if state in (BatchState.RUNNING, BatchState.CANCELLING):
            if now < self._next_follow.get(execution_id, now):
                return []
            return self._follow(ledger, batch_id, execution_id, now)
        return []

    # -- starting ------------------------------------------------------------
    def _start(self, ledger: Transactions, batch_id: str, now: float,
               stack_status: Optional[str]) -> list[Decision]:
        with ledger.transaction() as tx:
            decisions, start = self._gate(tx, batch_id, now, stack_status)
        if start is None:
            return decisions
        if start.shadow:
            with ledger.transaction() as tx:
                batch = tx.batch(start.id)
                if batch is None or batch.state != BatchState.INTENDED:
                    return decisions
                return decisions + outcome.shadowed(
                    tx, batch, now, self.policy, start.execution_id,
                    start.scale, len(start.units))
        # Passed only when they apply: a heal-only dispatcher keeps working.
        extra: dict = {}
        if start.scale is not None:
            extra["scale"] = start.scale
        if start.trust_id is not None:
            extra["trust_id"] = start.trust_id
        if start.step is not None:
            extra["step"] = start.step
        if start.fence:
            extra["fence"] = policy_for(
                self.policy, start.units[0].controls
            ).safe_time_to_assume_dead
        if self.policy.pre_replace_hook and start.step is None and \
                start.scale is None:
            extra["hook"] = PreReplaceHook(self.policy.pre_replace_hook,
                                           self.policy.pre_replace_timeout,
                                           self.policy.pre_replace_default)
        try:
            execution = self.dispatcher.start(
                start.execution_id, start.root_stack_id, start.units,
                start.reason, **extra)
        except TrustInvalid as exc:
            return decisions + self._trust_invalid(ledger, start, exc, now)
        except DispatchError as exc:
            return decisions + self._start_failed(ledger, start, exc, now)
        with ledger.transaction() as tx:
            batch = tx.move_batch(start.id, BatchState.INTENDED,
                                  state=BatchState.RUNNING,
                                  dispatched_at=now, output="",
                                  start_unconfirmed=False,
                                  cancel_requested_at=None,
                                  lease_owner=None, lease_until=None)
            if batch is None:
                return decisions
            if start.scale is not None:
                decisions.append(outcome.operation_decision(
                    batch, Action.DISPATCH, Reason.BATCH_DISPATCHED,
                    f"execution {execution.id} attempt {start.attempt} "
                    f"scales group {start.scale.group.key} "
                    f"{start.scale.size_before} -> {start.scale.target} "
                    f"({start.scale.method.value})"))
            victims = start.scale.victims if start.scale else ()
            decisions += [
                Decision(Action.DISPATCH, Reason.BATCH_DISPATCHED,
                         f"execution {execution.id} attempt {start.attempt}"
                         + (" removes the unit (scale-in)"
                            if u.key in victims else
                            f" {start.step}s {len(start.units)} unit(s) "
                            f"of the stack" if start.step else
                            f" heals {len(start.units)} unit(s) of the "
                            f"stack" + (", fencing first" if start.fence
                                        else "")),
                         unit_key=u.key, root_stack_id=start.root_stack_id,
                         batch_id=start.id)
                for u in start.units]
        if execution.state is not ExecState.RUNNING:
            # It existed already and finished (a replica or a restart).
            decisions += self._settle(ledger, start.id, execution, now)
        return decisions

    def _gate(self, tx: LedgerTx, batch_id: str, now: float,
              stack_status: Optional[str]
              ) -> tuple[list[Decision], Optional[_Start]]:
        batch = tx.batch(batch_id)
        if batch is None or batch.state not in (BatchState.INTENDED,
                                                BatchState.RETRY_WAIT):
            return [], None
        intents = [i for i in tx.batch_intents(batch.id)
                   if i.state == IntentState.BATCHED]
        result = self.gate.check(tx, batch.root_stack_id,
                                 [i.unit_key for i in intents], now,
                                 stack_status)
        stop = result.stop
        if stop is None and result.leave and batch.start_unconfirmed:
            # Mistral may hold this execution: its units cannot change, so
            # the whole operation waits for the unit's objection instead.
            stop = result.leave[0][1]
        if stop is not None:
            if batch.wait_reason == stop.reason.value:
                return [], None
            batch.wait_reason = stop.reason.value
            return [outcome.operation_decision(
                batch, Action.WAIT, stop.reason,
                f"attempt {batch.attempt} not started: {stop.detail}")], None
        decisions = []
        scale = tx.batch_scale(batch.id) if batch.kind == "scale" else None
        plan = stored_plan(scale) if scale is not None else None
        if result.leave:
            leaving = dict(result.leave)
            decisions = [leave(tx, i, leaving[i.unit_key], now)
                         for i in intents if i.unit_key in leaving]
            intents = [i for i in intents if i.unit_key not in leaving]
            if scale is not None:
                plan = drop_victims(scale, leaving)
            if not intents and plan is None:
                close_operation(tx, batch, BatchState.CANCELLED, now)
                decisions.append(outcome.operation_decision(
                    batch, Action.CLEAR, Reason.OPERATION_CANCELLED,
                    "every unit left the operation before its start"))
                return decisions, None
            tx.set_batch_units(batch, vertex_ids(tx, intents))
        if not batch.start_unconfirmed:
            incidents = intent_incidents(intents)
            if scale is not None:
                incidents.append(scale_incident(scale))
            batch.execution_id = execution_id_for(
                batch.root_stack_id, [i.unit_key for i in intents],
                incidents, batch.attempt)
        from_state = batch.state
        execution_id = batch.execution_id
        if tx.move_batch(batch.id, from_state, state=BatchState.INTENDED,
                         execution_id=execution_id, units=batch.units,
                         wait_reason=None) is None:
            return [], None
        if not tx.claim_batch(batch.id, BatchState.INTENDED, self.replica,
                              now, START_LEASE):
            return [], None
        batch = tx.batch(batch.id)
        tx.add_attempt(batch, now)
        # No keys would read every unit: a scale may have none.
        keys = [i.unit_key for i in intents]
        units = tuple(unit_record(r).as_unit()
                      for r in tx.units(*keys)) if keys else ()
        trust = tx.trust_for(batch.root_stack_id)
        shadow = self.policy.shadow or \
            tx.shadow_for(batch.root_stack_id) is not None
        step = step_of_kind(batch.kind)
        fence = batch.kind == "heal" and any(
            FENCE in control_words(u.controls) for u in units)
        return decisions, _Start(batch.id, batch.root_stack_id,
                                 execution_id, batch.attempt, units,
                                 batch.reason, plan,
                                 trust.trust_id if trust else None, shadow,
                                 None if step == REPLACE else step, fence)

    def _trust_invalid(self, ledger: Transactions, start: _Start,
                       exc: TrustInvalid, now: float) -> list[Decision]:
        """Not an attempt: nothing was started. The stack is held until
        its owner creates a new trust; the operation waits for it."""
        self.counters.inc("dispatch.trust_invalid")
        LOG.error("stack %s: %s; its operations wait for a new trust",
                  start.root_stack_id, exc)
        with ledger.transaction() as tx:
            batch = tx.batch(start.id)
            if batch is None or batch.state != BatchState.INTENDED:
                return []
            batch.lease_owner, batch.lease_until = None, None
            tx.finish_attempt(batch, AttemptOutcome.START_FAILED, now,
                              str(exc))
            tx.set_hold(stack_scope(start.root_stack_id), HoldKind.TRUST,
                        str(exc), now)
            batch.wait_reason = Reason.TRUST_INVALID.value
            return [outcome.operation_decision(
                batch, Action.HOLD, Reason.TRUST_INVALID,
                f"{exc}: attempt {batch.attempt} not started; 'vitrage-"
                f"selfheal trust create --stack {start.root_stack_id}' "
                f"as the stack's owner releases it")]

    def _start_failed(self, ledger: Transactions, start: _Start,
                      exc: DispatchError, now: float) -> list[Decision]:
        self.counters.inc("dispatch.start_errors")
        LOG.error("start of execution %s (stack %s, attempt %d) failed: %s",
                  start.execution_id, start.root_stack_id, start.attempt,
                  exc)
        with ledger.transaction() as tx:
            batch = tx.batch(start.id)
            if (batch is None or batch.state != BatchState.INTENDED
                    or batch.execution_id != start.execution_id):
                return []
            # A refusal (4xx) created nothing; anything else may have.
            batch.start_unconfirmed = (batch.start_unconfirmed
                                       or not exc.refused)
            why = f"start of execution {start.execution_id} failed: {exc}"
            if batch.start_unconfirmed and (batch.attempt
                                            >= self.policy.max_attempts):
                why += ("; it may exist in Mistral: 'openstack workflow "
                        f"execution show {start.execution_id}'")
            return outcome.failed(tx, batch, now, self.policy,
                                  Reason.DISPATCH_FAILED, why,
                                  AttemptOutcome.START_FAILED,
                                  retry_reason=Reason.DISPATCH_FAILED)


__all__ = ["Runner", "START_LEASE", "startable"]
