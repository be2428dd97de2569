"""Drives each open batch: start its execution, follow it, retry or fail.

Every transition is a persisted decision. Starting is idempotent (the
execution id is derived from the batch and attempt), so a batch left
INTENDED by a crash or an unreachable Mistral is simply started again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Optional

from vitrage_selfheal.decide.pipeline import hold_unit
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.reasons import Action, Decision, Reason
from vitrage_selfheal.dispatch.base import (
    Dispatcher,
    DispatchError,
    ExecState,
    Execution,
)
from vitrage_selfheal.dispatch.execution_id import execution_id_for
from vitrage_selfheal.ledger.models import BatchRow
from vitrage_selfheal.ledger.store import (
    BatchState,
    HoldKind,
    IntentState,
    Ledger,
    LedgerTx,
    stack_scope,
)
from vitrage_selfheal.model import Unit

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    id: str
    root_stack_id: str
    state: str
    execution_id: str
    units: tuple[Unit, ...]
    reason: str


# How long a replica may take to start an execution before another
# replica may try (with the same id, so at worst Mistral dedups it).
START_LEASE = 60.0


class Runner:
    """Every state change is a compare-and-set on the batch row, so two
    replicas driving the same batch (no lock backend, or a lock lost) move
    it once and record each decision once."""

    def __init__(self, dispatcher: Dispatcher, policy: Policy,
                 replica: str = "local") -> None:
        self.dispatcher = dispatcher
        self.policy = policy
        self.replica = replica

    def advance(self, ledger: Ledger, batch_id: str,
                now: float) -> list[Decision]:
        """One step for one open batch; the caller holds the stack lock."""
        with ledger.transaction() as tx:
            snap = self._snapshot(tx, batch_id, now)
        if snap is None:
            return []
        if snap.state == BatchState.INTENDED:
            return self._start(ledger, snap, now)
        if snap.state == BatchState.RUNNING:
            return self._follow(ledger, snap, now)
        return []

    def _snapshot(self, tx: LedgerTx, batch_id: str,
                  now: float) -> Optional[_Snapshot]:
        batch = tx.s.get(BatchRow, batch_id)
        if batch is None or batch.state not in BatchState.OPEN:
            return None
        if batch.state == BatchState.RETRY_WAIT:
            if now < (batch.next_try_at or 0):
                return None
            intents = tx.batch_intents(batch.id)
            attempt = batch.attempt + 1
            batch = tx.move_batch(
                batch.id, BatchState.RETRY_WAIT, state=BatchState.INTENDED,
                attempt=attempt, execution_id=execution_id_for(
                    batch.root_stack_id, [i.unit_key for i in intents],
                    [i.incident for i in intents], attempt))
            if batch is None:
                return None
        if batch.state == BatchState.INTENDED and not tx.claim_batch(
                batch.id, BatchState.INTENDED, self.replica, now,
                START_LEASE):
            return None
        rows = tx.units(*[i.unit_key for i in tx.batch_intents(batch.id)])
        return _Snapshot(batch.id, batch.root_stack_id, batch.state,
                         batch.execution_id,
                         tuple(tx.as_unit(r) for r in rows), batch.reason)

    def _start(self, ledger: Ledger, snap: _Snapshot,
               now: float) -> list[Decision]:
        try:
            execution = self.dispatcher.start(
                snap.execution_id, snap.root_stack_id, snap.units,
                snap.reason)
        except DispatchError as exc:
            with ledger.transaction() as tx:
                batch = tx.s.get(BatchRow, snap.id)
                # Released at once: the next tick, on any replica, retries.
                batch.lease_owner, batch.lease_until = None, None
                error = f"start failed: {exc}"
                if batch.output == error:
                    return []
                batch.output = error
                return [_batch_decision(batch, Action.WAIT,
                                        Reason.DISPATCH_FAILED,
                                        f"{error}; retried next tick")]
        with ledger.transaction() as tx:
            batch = tx.move_batch(snap.id, BatchState.INTENDED,
                                  state=BatchState.RUNNING,
                                  dispatched_at=now, output="",
                                  lease_owner=None, lease_until=None)
            if batch is None:
                return []
            decisions = [
                Decision(Action.DISPATCH, Reason.BATCH_DISPATCHED,
                         f"execution {execution.id} attempt {batch.attempt}"
                         f" heals {len(snap.units)} unit(s) of the stack",
                         unit_key=u.key, root_stack_id=snap.root_stack_id,
                         batch_id=snap.id)
                for u in snap.units]
        if execution.state is not ExecState.RUNNING:
            # It existed already and finished (a replica or a restart).
            decisions += self._settle(ledger, snap, execution, now)
        return decisions

    def _follow(self, ledger: Ledger, snap: _Snapshot,
                now: float) -> list[Decision]:
        try:
            execution = self.dispatcher.get(snap.execution_id)
        except DispatchError as exc:
            LOG.warning("cannot read execution %s: %s", snap.execution_id,
                        exc)
            return []
        if execution.state is ExecState.MISSING:
            # Lost by the executor: the same id starts it again, once.
            with ledger.transaction() as tx:
                moved = tx.move_batch(snap.id, BatchState.RUNNING,
                                      state=BatchState.INTENDED)
                claimed = moved is not None and tx.claim_batch(
                    snap.id, BatchState.INTENDED, self.replica, now,
                    START_LEASE)
            return self._start(ledger, snap, now) if claimed else []
        if execution.state is ExecState.RUNNING:
            with ledger.transaction() as tx:
                batch = tx.s.get(BatchRow, snap.id)
                started = batch.dispatched_at or now
            if now - started < self.policy.execution_timeout:
                return []
            execution = dataclasses.replace(
                execution, state=ExecState.ERROR,
                state_info=f"still running after "
                           f"{self.policy.execution_timeout:.0f}s")
            return self._settle(ledger, snap, execution, now,
                                Reason.EXECUTION_STUCK)
        return self._settle(ledger, snap, execution, now)

    def _settle(self, ledger: Ledger, snap: _Snapshot, execution: Execution,
                now: float,
                failure: Reason = Reason.EXECUTION_FAILED) -> list[Decision]:
        with ledger.transaction() as tx:
            # Claim the transition; the state is set for good below.
            batch = tx.move_batch(snap.id, BatchState.RUNNING,
                                  state=BatchState.FAILED)
            if batch is None:
                return []
            batch.output = json.dumps(execution.output, sort_keys=True)
            if execution.state is ExecState.SUCCESS:
                return self._succeeded(tx, batch, execution, now)
            return self._failed(tx, batch, execution, now, failure)

    def _succeeded(self, tx: LedgerTx, batch: BatchRow,
                   execution: Execution, now: float) -> list[Decision]:
        batch.state, batch.finished_at, batch.open_slot = (
            BatchState.SUCCESS, now, None)
        replaced = _replacements(execution.output)
        decisions = []
        for intent in tx.batch_intents(batch.id):
            tx.close_intent(intent, IntentState.DONE, now)
            unit = tx.unit(intent.unit_key)
            unit.last_healed_at = now
            unit.heal_times = f"{unit.heal_times} {now:.3f}".strip()
            new_id = replaced.get(unit.unit_key)
            if new_id:
                unit.physical_id = new_id
            what = f" (new physical id {new_id})" if new_id else ""
            decisions.append(Decision(
                Action.SUCCEED, Reason.EXECUTION_SUCCEEDED,
                f"execution {execution.id} replaced the unit{what}; "
                f"cooldown {self.policy.cooldown:.0f}s",
                unit_key=unit.unit_key, root_stack_id=batch.root_stack_id,
                batch_id=batch.id))
        return decisions

    def _failed(self, tx: LedgerTx, batch: BatchRow, execution: Execution,
                now: float, reason: Reason) -> list[Decision]:
        why = _failure_text(execution)
        if batch.attempt < self.policy.max_attempts:
            delay = self.policy.retry_backoff * 2 ** (batch.attempt - 1)
            batch.state, batch.next_try_at = BatchState.RETRY_WAIT, now + delay
            return [_batch_decision(
                batch, Action.RETRY, Reason.RETRY_BACKOFF,
                f"{reason.value} attempt {batch.attempt}/"
                f"{self.policy.max_attempts} ({why}); retry in {delay:.0f}s")]
        batch.state, batch.finished_at, batch.open_slot = (
            BatchState.FAILED, now, None)
        breaker = (f"heal {batch.id} failed {batch.attempt} times, "
                   f"last: {why}")
        tx.set_hold(stack_scope(batch.root_stack_id), HoldKind.BREAKER,
                    breaker, now)
        decisions = [_batch_decision(batch, Action.FAIL, reason, breaker)]
        for intent in tx.batch_intents(batch.id):
            tx.close_intent(intent, IntentState.FAILED, now)
            held = Decision(Action.HOLD, Reason.CIRCUIT_OPEN, breaker,
                            unit_key=intent.unit_key,
                            root_stack_id=batch.root_stack_id,
                            batch_id=batch.id)
            hold_unit(tx.unit(intent.unit_key), held)
            decisions.append(held)
        return decisions


def _batch_decision(batch: BatchRow, action: Action, reason: Reason,
                    detail: str) -> Decision:
    return Decision(action, reason, detail, root_stack_id=batch.root_stack_id,
                    batch_id=batch.id)


def _failure_text(execution: Execution) -> str:
    failure = execution.output.get("failure") if execution.output else None
    if isinstance(failure, dict):
        parts = [f"{k}={failure[k]}" for k in
                 ("step", "http_status", "stack_status", "message")
                 if failure.get(k) not in (None, "")]
        if parts:
            return ", ".join(parts)
    return execution.state_info or execution.state.value


def _replacements(output: dict) -> dict[str, str]:
    """unit key -> new physical id, from the workflow's `result`."""
    result = output.get("result") if output else None
    replaced = {}
    for item in (result or {}).get("replaced", []) or []:
        try:
            key = f"{item['stack_id']}/{item['resource_name']}"
            replaced[key] = item["new_physical_id"]
        except (KeyError, TypeError):
            continue
    return replaced
