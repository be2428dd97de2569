"""Following a running stack operation: read its execution (backing off
while Mistral cannot be read), settle it, cancel it past
`execution_timeout` and confirm the cancel, take it back through the gate
when Mistral lost it. The Runner's second half (operations/runner.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
from contextlib import AbstractContextManager
from typing import Optional, Protocol

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.steps import REPLACE
from vitrage_selfheal.dispatch.base import (
    Dispatcher,
    DispatchError,
    ExecState,
    Execution,
)
from vitrage_selfheal.ledger.store import AttemptOutcome, LedgerTx
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Action, BatchState, Decision, Reason
from vitrage_selfheal.operations import outcome
from vitrage_selfheal.operations.queue import step_of_kind

LOG = logging.getLogger(__name__)

# A cancel Mistral did not confirm is asked again this often.
CANCEL_RESEND = 30.0
# The longest wait between reads of an execution Mistral failed to show.
FOLLOW_BACKOFF_MAX = 60.0


class Transactions(Protocol):
    def transaction(self) -> AbstractContextManager[LedgerTx]: ...


class Following:
    """Mixed into Runner, which sets these."""

    dispatcher: Dispatcher
    policy: Policy
    counters: Counters
    follow_interval: float
    _follow_errors: dict[str, tuple[str, int]]
    _next_follow: dict[str, float]

    def _follow(self, ledger: Transactions, batch_id: str, execution_id: str,
                now: float) -> list[Decision]:
        try:
            execution = self.dispatcher.get(execution_id)
        except DispatchError as exc:
            self._follow_error(execution_id, exc, now)
            return []
        self._follow_errors.pop(execution_id, None)
        if execution.state in (ExecState.RUNNING, ExecState.MISSING):
            self._next_follow[execution_id] = now + self.follow_interval
        else:
            self._next_follow.pop(execution_id, None)
        with ledger.transaction() as tx:
            batch = tx.batch(batch_id)
            if batch is None or batch.execution_id != execution_id:
                return []
            state = batch.state
            started = batch.dispatched_at or now
            cancel_at = batch.cancel_requested_at
        if state == BatchState.CANCELLING:
            return self._confirm_cancel(ledger, batch_id, execution,
                                        cancel_at or now, now)
        if execution.state is ExecState.MISSING:
            return self._lost(ledger, batch_id, execution_id, now)
        if execution.state is ExecState.RUNNING:
            if now - started < self.policy.execution_timeout:
                return []
            return self._cancel(ledger, batch_id, execution_id, now,
                                now - started)
        return self._settle(ledger, batch_id, execution, now)

    def _follow_error(self, execution_id: str, exc: DispatchError,
                      now: float) -> None:
        self.counters.inc("dispatch.follow_errors")
        text = str(exc)
        last, errors = self._follow_errors.get(execution_id, ("", 0))
        errors += 1
        self._follow_errors[execution_id] = (text, errors)
        delay = min(FOLLOW_BACKOFF_MAX,
                    max(self.follow_interval, 1.0) * 2 ** (errors - 1))
        self._next_follow[execution_id] = now + delay
        # Logged when the error changes, counted every time: one line per
        # tick would drown the log while Mistral is down.
        if last != text:
            LOG.error("cannot read execution %s: %s (next try in %.0fs)",
                      execution_id, text, delay)

    def _lost(self, ledger: Transactions, batch_id: str, execution_id: str,
              now: float) -> list[Decision]:
        """Mistral does not know it: back through the gate, same id."""
        with ledger.transaction() as tx:
            batch = tx.move_batch(batch_id, BatchState.RUNNING,
                                  state=BatchState.INTENDED,
                                  wait_reason=None)
            if batch is None:
                return []
            tx.finish_attempt(batch, AttemptOutcome.LOST, now,
                              "unknown to Mistral")
            lost = sum(a.outcome == AttemptOutcome.LOST
                       for a in tx.attempts(batch_id))
            if lost >= self.policy.max_attempts:
                return outcome.give_up(
                    tx, batch, now, Reason.EXECUTION_LOST,
                    f"execution {execution_id} lost by Mistral {lost} "
                    f"times")
            return [outcome.operation_decision(
                batch, Action.WAIT, Reason.EXECUTION_LOST,
                f"execution {execution_id} unknown to Mistral; started "
                f"again under the same id once the gate allows")]

    def _cancel(self, ledger: Transactions, batch_id: str, execution_id: str,
                now: float, ran: float) -> list[Decision]:
        with ledger.transaction() as tx:
            batch = tx.move_batch(batch_id, BatchState.RUNNING,
                                  state=BatchState.CANCELLING,
                                  cancel_requested_at=now)
            if batch is None:
                return []
            decision = outcome.operation_decision(
                batch, Action.WAIT, Reason.EXECUTION_STUCK,
                f"execution {execution_id} still running after {ran:.0f}s "
                f"(execution_timeout {self.policy.execution_timeout:.0f}s)"
                f": cancel requested; no new attempt until Mistral "
                f"confirms it ended")
        self._send_cancel(execution_id)
        return [decision]

    def _send_cancel(self, execution_id: str) -> Optional[Execution]:
        try:
            return self.dispatcher.cancel(
                execution_id, "vitrage-selfheal: execution_timeout")
        except DispatchError as exc:
            self.counters.inc("dispatch.cancel_errors")
            LOG.error("cancel of execution %s failed: %s", execution_id,
                      exc)
            return None

    def _confirm_cancel(self, ledger: Transactions, batch_id: str,
                        execution: Execution, asked_at: float,
                        now: float) -> list[Decision]:
        if execution.state is ExecState.SUCCESS:
            return self._settle(ledger, batch_id, execution, now,
                                BatchState.CANCELLING)
        if execution.state is not ExecState.RUNNING:
            ended = dataclasses.replace(
                execution, state=ExecState.ERROR,
                state_info=f"cancelled after execution_timeout "
                           f"{self.policy.execution_timeout:.0f}s "
                           f"({execution.state.value})")
            return self._settle(ledger, batch_id, ended, now,
                                BatchState.CANCELLING, Reason.EXECUTION_STUCK,
                                AttemptOutcome.STUCK)
        if now - asked_at < self.policy.cancel_timeout:
            if int((now - asked_at) // CANCEL_RESEND) > int(
                    (now - asked_at - 1e-9) // CANCEL_RESEND):
                self._send_cancel(execution.id)
            return []
        with ledger.transaction() as tx:
            batch = tx.move_batch(batch_id, BatchState.CANCELLING,
                                  state=BatchState.FAILED)
            if batch is None:
                return []
            tx.finish_attempt(batch, AttemptOutcome.STUCK, now,
                              "cancel not confirmed")
            return outcome.give_up(
                tx, batch, now, Reason.EXECUTION_STUCK,
                f"execution {execution.id} still RUNNING "
                f"{now - asked_at:.0f}s after its cancel: Mistral must "
                f"end it before this stack is healed again")

    def _settle(self, ledger: Transactions, batch_id: str,
                execution: Execution,
                now: float, from_state: str = BatchState.RUNNING,
                failure: Reason = Reason.EXECUTION_FAILED,
                attempt_outcome: str = AttemptOutcome.FAILED
                ) -> list[Decision]:
        with ledger.transaction() as tx:
            # Claim the transition; the state is set for good below.
            batch = tx.move_batch(batch_id, from_state,
                                  state=BatchState.FAILED)
            if batch is None:
                return []
            batch.output = json.dumps(execution.output, sort_keys=True)
            if execution.state is ExecState.SUCCESS:
                return outcome.succeeded(tx, batch, execution, now,
                                         self.policy)
            if outcome.abandoned_by_hook(execution):
                return outcome.abandoned(tx, batch, execution, now,
                                         self.policy)
            if step_of_kind(batch.kind) != REPLACE:
                # A step that did not work is not tried again: the next
                # step is the remedy (the ladder's replace at the latest).
                return outcome.escalate(tx, batch, execution, now,
                                        attempt_outcome)
            return outcome.failed(tx, batch, now, self.policy, failure,
                                  outcome.failure_text(execution),
                                  attempt_outcome)
