"""How an attempt ends: success closes the operation and starts the units'
cooldown; a failure backs off and retries, or opens the stack's breaker."""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.overrides import policy_for
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.steps import REPLACE, step_of
from vitrage_selfheal.dispatch.base import HOOK_STEP, Execution
from vitrage_selfheal.ledger.models import BatchRow, IntentRow, ScaleRow
from vitrage_selfheal.ledger.store import AttemptOutcome, LedgerTx
from vitrage_selfheal.model import (
    Action,
    BatchState,
    Decision,
    HoldKind,
    IntentState,
    Reason,
    ScalePlan,
    Unit,
    stack_scope,
)
from vitrage_selfheal.operations.queue import close_operation, step_of_kind
from vitrage_selfheal.operations.scaling import stored_plan


def operation_decision(batch: BatchRow, action: Action, reason: Reason,
                       detail: str) -> Decision:
    return Decision(action, reason, detail, root_stack_id=batch.root_stack_id,
                    batch_id=batch.id)


def succeeded(tx: LedgerTx, batch: BatchRow, execution: Execution,
              now: float, policy: Policy) -> list[Decision]:
    tx.finish_attempt(batch, AttemptOutcome.SUCCESS, now)
    close_operation(tx, batch, BatchState.SUCCESS, now)
    step = step_of_kind(batch.kind)
    if step != REPLACE:
        return _step_done(tx, batch, execution, now, policy, step)
    replaced = replacements(execution.output)
    scale = tx.batch_scale(batch.id) if batch.kind == "scale" else None
    plan = stored_plan(scale) if scale is not None else None
    victims = set(plan.victims) if plan is not None else set()
    decisions = []
    for intent in tx.batch_intents(batch.id):
        if intent.state != IntentState.BATCHED:
            continue
        tx.close_intent(intent, IntentState.DONE, now)
        if intent.unit_key in victims:
            tx.release_unit(intent.unit_key)
            decisions.append(Decision(
                Action.SUCCEED, Reason.REMOVED_BY_SCALE_IN,
                f"execution {execution.id} removed the unhealthy unit "
                f"instead of replacing it",
                unit_key=intent.unit_key, root_stack_id=batch.root_stack_id,
                batch_id=batch.id))
            continue
        new_id = replaced.get(intent.unit_key)
        tx.mark_healed(intent.unit_key, now, new_id)
        what = f" (new physical id {new_id})" if new_id else ""
        decisions.append(Decision(
            Action.SUCCEED, Reason.EXECUTION_SUCCEEDED,
            f"execution {execution.id} replaced the unit{what}; "
            f"cooldown {_own(policy, tx, intent).cooldown:.0f}s",
            unit_key=intent.unit_key, root_stack_id=batch.root_stack_id,
            batch_id=batch.id))
    if scale is not None:
        decisions.append(_scaled(tx, scale, plan, execution, now))
    return decisions


def _step_done(tx: LedgerTx, batch: BatchRow, execution: Execution,
               now: float, policy: Policy, step: str) -> list[Decision]:
    """A reboot or rebuild ran: each unit whose servers came back ACTIVE
    is held VERIFYING for the step's timeout, then judged
    (decide/ladder.py); each one whose did not goes on to the next step."""
    failed = step_failures(execution.output)
    decisions = []
    for intent in _batched(tx, batch):
        if intent.unit_key in failed:
            decisions.append(_escalated(tx, batch, intent, execution.id,
                                        step, failed[intent.unit_key],
                                        now))
            continue
        tx.step_ended(intent.unit_key, step, now)
        timeout = step_of(_own(policy, tx, intent).remediation_ladder,
                          step).timeout
        decisions.append(_hold(
            tx, batch, intent, IntentState.DONE, Reason.VERIFYING,
            f"execution {execution.id}: {step} done; healthy in "
            f"{timeout:.0f}s is REMEDIATED, else the next step",
            now + timeout, now))
    return decisions


def escalate(tx: LedgerTx, batch: BatchRow, execution: Execution,
             now: float, attempt_outcome: str) -> list[Decision]:
    """A reboot or rebuild failed as a whole: no retry and no breaker;
    its units go on to the next step of their ladder on the next tick."""
    why = failure_text(execution)
    step = step_of_kind(batch.kind)
    tx.finish_attempt(batch, attempt_outcome, now, why)
    close_operation(tx, batch, BatchState.FAILED, now)
    return [operation_decision(batch, Action.FAIL, Reason.ESCALATED,
                               f"{step} failed ({why})")] + [
        _escalated(tx, batch, intent, execution.id, step, why, now)
        for intent in _batched(tx, batch)]


def _escalated(tx: LedgerTx, batch: BatchRow, intent: IntentRow,
               execution_id: str, step: str, why: str,
               now: float) -> Decision:
    """Held until now: reconsidered next tick, it takes the next step if
    it is still unhealthy (decide/ladder.next_step)."""
    tx.step_ended(intent.unit_key, step, now)
    return _hold(tx, batch, intent, IntentState.FAILED, Reason.ESCALATED,
                 f"execution {execution_id}: {step} failed ({why}); the "
                 f"next step is queued if the unit is still unhealthy",
                 now, now)


def step_failures(output: Optional[dict]) -> dict[str, str]:
    """unit key -> why, for the units selfheal.remedy_units could not
    bring back (its `result.failed`)."""
    result = output.get("result") if output else None
    failed = {}
    for item in (result or {}).get("failed", []) or []:
        if isinstance(item, dict) and isinstance(item.get("unit_key"), str):
            failed[item["unit_key"]] = str(item.get("message") or "failed")
    return failed


def abandoned_by_hook(execution: Execution) -> bool:
    failure = execution.output.get("failure") if execution.output else None
    return isinstance(failure, dict) and failure.get("step") == HOOK_STEP


def abandoned(tx: LedgerTx, batch: BatchRow, execution: Execution,
              now: float, policy: Policy) -> list[Decision]:
    """The application's pre-replace hook said ABANDON: nothing was
    marked. Not a failure of ours (no retry, no breaker): the units are
    held for a cooldown and asked again if still unhealthy."""
    why = failure_text(execution)
    tx.finish_attempt(batch, AttemptOutcome.FAILED, now, why)
    close_operation(tx, batch, BatchState.FAILED, now)
    decisions = [operation_decision(batch, Action.SKIP,
                                    Reason.HOOK_ABANDONED, why)]
    return decisions + [_hold(
        tx, batch, intent, IntentState.CANCELLED, Reason.HOOK_ABANDONED,
        f"execution {execution.id}: {why}; nothing marked, asked again in "
        f"{_own(policy, tx, intent).cooldown:.0f}s if still unhealthy",
        now + _own(policy, tx, intent).cooldown, now)
        for intent in _batched(tx, batch)]


def _hold(tx: LedgerTx, batch: BatchRow, intent: IntentRow, state: str,
          reason: Reason, detail: str, until: Optional[float],
          now: float) -> Decision:
    """The unit's part of the operation ends in `state`; it is held (and
    reconsidered from `until` on, as every held unit is)."""
    tx.close_intent(intent, state, now)
    held = Decision(Action.HOLD, reason, detail, unit_key=intent.unit_key,
                    root_stack_id=batch.root_stack_id, batch_id=batch.id,
                    until=until)
    tx.hold_unit(intent.unit_key, held)
    return held


def _own(policy: Policy, tx: LedgerTx, intent: IntentRow) -> Policy:
    """The policy of the intent's stack (its selfheal:<option>= tags)."""
    return policy_for(policy, tx.unit(intent.unit_key).controls)


def _batched(tx: LedgerTx, batch: BatchRow) -> list[IntentRow]:
    return [i for i in tx.batch_intents(batch.id)
            if i.state == IntentState.BATCHED]


def shadowed(tx: LedgerTx, batch: BatchRow, now: float, policy: Policy,
             execution_id: str, plan: Optional[ScalePlan],
             unit_count: int) -> list[Decision]:
    """Shadow mode: the operation would have started now; nothing is.
    Its units are held SHADOW for a cooldown, then asked again if still
    unhealthy; its scale is done as far as the scaling cooldown goes."""
    tx.finish_attempt(batch, AttemptOutcome.SHADOW, now,
                      "shadow mode: not started")
    close_operation(tx, batch, BatchState.SHADOWED, now)
    would = f"would have started execution {execution_id}"
    decisions = []
    scale = tx.batch_scale(batch.id) if batch.kind == "scale" else None
    if scale is not None:
        tx.close_scale(scale, IntentState.DONE, now)
        what = (f" to scale group {plan.group.key} {plan.size_before} -> "
                f"{plan.target} ({plan.method.value})" if plan else "")
        decisions.append(operation_decision(
            batch, Action.SKIP, Reason.SHADOW,
            f"{would}{what}; shadow mode: nothing started"))
    victims = set(plan.victims) if plan is not None else set()
    for intent in _batched(tx, batch):
        what = ("remove the unit (scale-in)" if intent.unit_key in victims
                else f"heal {unit_count} unit(s) of the stack")
        decisions.append(_hold(
            tx, batch, intent, IntentState.CANCELLED, Reason.SHADOW,
            f"{would} to {what}; shadow mode: nothing started, asked "
            f"again in {policy.cooldown:.0f}s if still unhealthy",
            now + policy.cooldown, now))
    return decisions


def _scaled(tx: LedgerTx, scale: ScaleRow, plan: Optional[ScalePlan],
            execution: Execution, now: float) -> Decision:
    """The scale request is done; the units it created start warming up."""
    tx.close_scale(scale, IntentState.DONE, now)
    result = (execution.output or {}).get("result") or {}
    added = []
    for item in result.get("added") or []:
        try:
            unit = Unit(root_stack_id=scale.root_stack_id,
                        stack_id=item["stack_id"],
                        resource_name=item["resource_name"],
                        physical_id=item.get("physical_id"),
                        group=scale.group_key)
        except (KeyError, TypeError):
            continue
        tx.upsert_unit(unit)
        tx.born(unit.key, now)
        added.append(unit.resource_name)
    size = result.get("size_after", plan.target if plan else "?")
    before = plan.size_before if plan else "?"
    what = f"group at {size} (was {before})"
    if added:
        what += f"; new: {', '.join(added)} (unit_grace applies)"
    return Decision(Action.SUCCEED, Reason.SCALE_SUCCEEDED,
                    f"group {scale.group_key}: execution {execution.id}: "
                    f"{what}", root_stack_id=scale.root_stack_id,
                    batch_id=scale.batch_id)


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
    scale = tx.batch_scale(batch.id) if batch.kind == "scale" else None
    if scale is not None and scale.open_slot is not None:
        tx.close_scale(scale, IntentState.FAILED, now)
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
