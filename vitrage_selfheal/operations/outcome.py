"""How an attempt ends: success closes the operation and starts the units'
cooldown; a failure backs off and retries, or opens the stack's breaker."""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import Execution
from vitrage_selfheal.ledger.models import BatchRow
from vitrage_selfheal.ledger.store import AttemptOutcome, LedgerTx
from vitrage_selfheal.model import (
    Action,
    BatchState,
    Decision,
    HoldKind,
    IntentState,
    Reason,
    Unit,
    stack_scope,
)
from vitrage_selfheal.operations.queue import close_operation


def operation_decision(batch: BatchRow, action: Action, reason: Reason,
                       detail: str) -> Decision:
    return Decision(action, reason, detail, root_stack_id=batch.root_stack_id,
                    batch_id=batch.id)


def succeeded(tx: LedgerTx, batch: BatchRow, execution: Execution,
              now: float, policy: Policy) -> list[Decision]:
    tx.finish_attempt(batch, AttemptOutcome.SUCCESS, now)
    close_operation(tx, batch, BatchState.SUCCESS, now)
    replaced = replacements(execution.output)
    decisions = []
    for intent in tx.batch_intents(batch.id):
        if intent.state != IntentState.BATCHED:
            continue
        tx.close_intent(intent, IntentState.DONE, now)
        new_id = replaced.get(intent.unit_key)
        tx.mark_healed(intent.unit_key, now, new_id)
        what = f" (new physical id {new_id})" if new_id else ""
        decisions.append(Decision(
            Action.SUCCEED, Reason.EXECUTION_SUCCEEDED,
            f"execution {execution.id} replaced the unit{what}; "
            f"cooldown {policy.cooldown:.0f}s",
            unit_key=intent.unit_key, root_stack_id=batch.root_stack_id,
            batch_id=batch.id))
    return decisions


def failed(tx: LedgerTx, batch: BatchRow, now: float, policy: Policy,
           reason: Reason, why: str, outcome: str,
           retry_reason: Reason = Reason.RETRY_BACKOFF) -> list[Decision]:
    """One attempt used up: retry after backoff while attempts remain."""
    tx.finish_attempt(batch, outcome, now, why)
    batch.lease_owner, batch.lease_until = None, None
    batch.output = why
    if batch.attempt < policy.max_attempts:
        delay = policy.retry_backoff * 2 ** (batch.attempt - 1)
        text = (f"{reason.value} attempt {batch.attempt}/"
                f"{policy.max_attempts} ({why}); retry in {delay:.0f}s")
        batch.state, batch.next_try_at = BatchState.RETRY_WAIT, now + delay
        batch.attempt += 1
        batch.wait_reason = None
        return [operation_decision(batch, Action.RETRY, retry_reason, text)]
    return give_up(tx, batch, now, reason,
                   f"{batch.kind} {batch.id} failed {batch.attempt} "
                   f"times, last: {why}")


def give_up(tx: LedgerTx, batch: BatchRow, now: float, reason: Reason,
            breaker: str) -> list[Decision]:
    """The operation ends FAILED and the stack's breaker opens: nothing
    more is started on it until an operator releases it."""
    close_operation(tx, batch, BatchState.FAILED, now)
    tx.set_hold(stack_scope(batch.root_stack_id), HoldKind.BREAKER,
                breaker, now)
    decisions = [operation_decision(batch, Action.FAIL, reason, breaker)]
    for intent in tx.batch_intents(batch.id):
        if intent.state != IntentState.BATCHED:
            continue
        tx.close_intent(intent, IntentState.FAILED, now)
        held = Decision(Action.HOLD, Reason.CIRCUIT_OPEN, breaker,
                        unit_key=intent.unit_key,
                        root_stack_id=batch.root_stack_id, batch_id=batch.id)
        tx.hold_unit(intent.unit_key, held)
        decisions.append(held)
    return decisions


def failure_text(execution: Execution) -> str:
    failure = execution.output.get("failure") if execution.output else None
    if isinstance(failure, dict):
        parts = [f"{k}={failure[k]}" for k in
                 ("step", "http_status", "stack_status", "message")
                 if failure.get(k) not in (None, "")]
        if parts:
            return ", ".join(parts)
    return execution.state_info or execution.state.value


def replacements(output: Optional[dict]) -> dict[str, str]:
    """unit key -> new physical id, from the workflow's `result`."""
    result = output.get("result") if output else None
    replaced = {}
    for item in (result or {}).get("replaced", []) or []:
        try:
            key = Unit(root_stack_id="", stack_id=item["stack_id"],
                       resource_name=item["resource_name"]).key
            replaced[key] = item["new_physical_id"]
        except (KeyError, TypeError):
            continue
    return replaced
