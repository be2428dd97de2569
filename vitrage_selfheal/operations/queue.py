"""The per-root-stack queue: queued units of one stack become one
operation.

An operation forms once the oldest queued unit of a stack has waited the
coalescing window, no operation of that stack is open, and the gate lets
it; each group gives at most `max_in_flight` units to it. Whatever cannot
go yet stays queued with a named WAIT, logged once per change.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Mapping
from typing import Optional

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.quorum import is_quorum_group
from vitrage_selfheal.decide.steps import REPLACE
from vitrage_selfheal.dispatch.execution_id import execution_id_for
from vitrage_selfheal.ledger.models import BatchRow, IntentRow, ScaleRow
from vitrage_selfheal.ledger.store import AlreadyRecorded, LedgerTx
from vitrage_selfheal.ledger.view import unit_record
from vitrage_selfheal.model import (
    Action,
    BatchState,
    Decision,
    GroupInfo,
    IntentState,
    Reason,
    ScaleMethod,
    ScalePlan,
)
from vitrage_selfheal.operations.gate import (
    Gate,
    StatusReader,
    read_status,
)
from vitrage_selfheal.operations.scaling import (
    ScaleForming,
    attach,
    drop_victims,
    scale_decision,
    wait_scale,
)

LOG = logging.getLogger(__name__)


class Queue:
    def __init__(self, policy: Policy, gate: Gate) -> None:
        self.policy = policy
        self.gate = gate
        self.scaling = ScaleForming(policy)

    def stacks_due(self, tx: LedgerTx, now: float) -> list[str]:
        """Stacks with queued heals that are due (below), and stacks with
        a queued scale request (a vote is merged at admission, so it
        needs no coalescing window)."""
        due = set(self._heals_due(tx, now))
        due.update(s.root_stack_id for s in tx.open_scales()
                   if s.state == IntentState.PENDING)
        return sorted(due)

    def _heals_due(self, tx: LedgerTx, now: float) -> list[str]:
        """Root stacks whose queue is quiet, or has waited long enough.

        Quiet: no unit queued for the coalescing window, in this stack nor
        in any other. A rack or switch fault reaches us over seconds (the
        engine works through its events one by one), its units spread over
        many stacks: while any of them is still arriving, a stack's next
        unit may be on its way too. `coalesce_max` after its first unit a
        stack goes anyway.
        """
        pending = sorted(tx.pending_intents(), key=lambda i: i.root_stack_id)
        if not pending:
            return []
        window = self.policy.coalesce_window
        ceiling = max(self.policy.coalesce_max, window)
        storm_quiet = now - max(i.created_at for i in pending) >= window
        due = []
        for stack, group in itertools.groupby(pending,
                                              key=lambda i: i.root_stack_id):
            first = min(i.created_at for i in group)
            if storm_quiet or now - first >= ceiling:
                due.append(stack)
        return due

    def form(self, tx: LedgerTx, root_stack_id: str, now: float,
             status: StatusReader,
             groups: Optional[Mapping[str, Optional[GroupInfo]]] = None
             ) -> tuple[Optional[BatchRow], list[Decision]]:
        """Try to form the stack's next operation; persisted INTENDED.

        `groups`: Heat's view of each group with a queued scale request,
        read by the caller before its lock (None: unreadable).
        """
        intents = [i for i in tx.pending_intents()
                   if i.root_stack_id == root_stack_id]
        scales = [s for s in tx.open_scales(root_stack_id)
                  if s.state == IntentState.PENDING]
        if not intents and not scales:
            return None, []
        if tx.open_batch(root_stack_id) is not None:
            why = "previous operation on this stack still open"
            return None, _wait(intents, Reason.STACK_BUSY, why) + [
                d for s in scales for d in wait_scale(s, Reason.STACK_BUSY,
                                                      why)]
        result = self.gate.check(tx, root_stack_id,
                                 [i.unit_key for i in intents], now,
                                 read_status(status, root_stack_id))
        if result.stop is not None:
            # A scale is never held: it waits with the stop's reason.
            decisions = [d for s in scales for d in wait_scale(
                s, result.stop.reason, result.stop.detail)]
            if result.stop.action is Action.HOLD:
                # Held stacks keep nothing queued: the units are held and
                # reconsidered when the hold lifts, so no heal is lost.
                return None, decisions + [leave(tx, i, result.stop, now)
                                          for i in intents]
            return None, decisions + _wait(intents, result.stop.reason,
                                           result.stop.detail)
        leaving = dict(result.leave)
        decisions = [leave(tx, i, leaving[i.unit_key], now)
                     for i in intents if i.unit_key in leaving]
        intents = [i for i in intents if i.unit_key not in leaving]
        chosen, waiting = self._in_flight(tx, intents)
        decisions += _wait(waiting, Reason.MAX_IN_FLIGHT,
                           "the group's max_in_flight units are in the "
                           "stack's next operation; these go after it")
        chosen, later = _one_step(chosen)
        scale, plan, found = self.scaling.plan(
            tx, root_stack_id, groups or {}, now,
            chosen if _step(chosen) == REPLACE else [])
        decisions += found
        if scale is not None and plan is not None and \
                _step(chosen) != REPLACE:
            # A scale marks and updates: only replacements go with it.
            later, chosen = later + chosen, []
        decisions += _wait(later, Reason.STACK_BUSY,
                           "one remediation step per operation: another "
                           "step of this stack goes first")
        if scale is not None and plan is not None:
            if plan.method is ScaleMethod.SIGNAL or \
                    plan.target < plan.size_before:
                # A scale-in marks only its victims: Heat removes FAILED
                # members first (the oldest of them), so another marked
                # unit could be removed in a victim's place.
                chosen = [i for i in chosen if i.unit_key in plan.victims]
            return self._operation(tx, root_stack_id, chosen, now,
                                   decisions, (scale, plan))
        if not chosen:
            return None, decisions
        return self._operation(tx, root_stack_id, chosen, now, decisions)

    def _in_flight(self, tx: LedgerTx, intents: list[IntentRow]
                   ) -> tuple[list[IntentRow], list[IntentRow]]:
        chosen, waiting, taken = [], [], {}
        for intent in sorted(intents, key=lambda i: i.id):
            unit = tx.unit(intent.unit_key)
            limit = 1 if is_quorum_group(unit.controls) else \
                self.policy.in_flight_limit(unit.group_size)
            count = taken.get(unit.group_key, 0)
            if count >= limit:
                waiting.append(intent)
                continue
            taken[unit.group_key] = count + 1
            chosen.append(intent)
        return chosen, waiting

    def _operation(self, tx: LedgerTx, root_stack_id: str,
                   intents: list[IntentRow], now: float,
                   decisions: list[Decision],
                   scale: Optional[tuple[ScaleRow, ScalePlan]] = None
                   ) -> tuple[Optional[BatchRow], list[Decision]]:
        keys = sorted(i.unit_key for i in intents)
        incidents = intent_incidents(intents)
        reasons = sorted({i.incident for i in intents})
        if scale is not None:
            incidents.append(scale_incident(scale[0]))
            reasons.append(f"scale {scale[1].size_before}->"
                           f"{scale[1].target}")
        exec_id = execution_id_for(root_stack_id, keys, incidents, 1)
        batch = BatchRow(
            id=exec_id, root_stack_id=root_stack_id,
            kind=batch_kind(_step(intents)) if scale is None else "scale",
            state=BatchState.INTENDED, attempt=1, execution_id=exec_id,
            units="[]", reason="; ".join(reasons),
            created_at=now, output="", start_unconfirmed=False)
        tx.set_batch_units(batch, vertex_ids(tx, intents))
        for intent in intents:
            intent.wait_reason = None
        try:
            tx.add_batch(batch, intents)
        except AlreadyRecorded:
            LOG.warning("operation %s on stack %s was formed by another "
                        "replica first", exec_id, root_stack_id)
            return None, decisions
        if scale is not None:
            row, plan = scale
            attach(tx, row, plan, batch.id, now)
            what = f"{plan.method.value} {plan.size_before} -> {plan.target}"
            if plan.victims:
                what += f", removing unhealthy {', '.join(plan.victims)}"
            healed = [k for k in keys if k not in plan.victims]
            if healed:
                what += f", healing {', '.join(healed)} in the same update"
            decisions.append(scale_decision(row, Action.ACCEPT,
                                            Reason.COALESCED, what,
                                            batch.id))
            return batch, decisions
        decisions.append(Decision(
            Action.ACCEPT, Reason.COALESCED,
            f"{len(keys)} unit(s) in one heal: " + ", ".join(keys),
            root_stack_id=root_stack_id, batch_id=batch.id))
        return batch, decisions


def batch_kind(step: str) -> str:
    """An operation's kind: its ladder step; a replacement is a "heal"."""
    return "heal" if step == REPLACE else step


def step_of_kind(kind: str) -> str:
    return REPLACE if kind in ("heal", "scale") else kind


def _step(intents: list[IntentRow]) -> str:
    return min(intents, key=lambda i: i.id).step if intents else REPLACE


def _one_step(intents: list[IntentRow]
              ) -> tuple[list[IntentRow], list[IntentRow]]:
    """The intents of the oldest one's step, and the others."""
    step = _step(intents)
    return ([i for i in intents if i.step == step],
            [i for i in intents if i.step != step])


def scale_incident(row: ScaleRow) -> str:
    return f"scale#{row.id}:{row.delta:+d}"


def intent_incidents(intents: list[IntentRow]) -> list[str]:
    """What makes a heal itself: each incident with the intent that queued
    it, so a later heal of the same incident (after a withdrawal or a
    breaker) is a new execution, and replicas agree on it."""
    return [f"{i.incident}@{i.id}" for i in intents]


def vertex_ids(tx: LedgerTx, intents: list[IntentRow]) -> list[str]:
    return [unit_record(tx.unit(i.unit_key)).as_unit().vertex_id
            for i in intents]


def withdraw(tx: LedgerTx, unit_key: str, now: float) -> Optional[str]:
    """Take a recovered or suppressed unit out of its heal, if the heal has
    not started; what was done, or None."""
    intent = tx.open_intent(unit_key)
    if intent is None:
        return None
    if intent.state == IntentState.PENDING:
        tx.close_intent(intent, IntentState.CANCELLED, now)
        return "queued heal cancelled"
    batch = tx.batch(intent.batch_id)
    if batch is None or not startable(batch, now):
        return None
    tx.close_intent(intent, IntentState.CANCELLED, now)
    rest = [i for i in tx.batch_intents(batch.id)
            if i.state == IntentState.BATCHED]
    scale = tx.batch_scale(batch.id) if batch.kind == "scale" else None
    if scale is not None:
        # The scale stands without the unit; Heat picks its own victim.
        drop_victims(scale, {unit_key})
        tx.set_batch_units(batch, vertex_ids(tx, rest))
        return f"left scale operation {batch.id} before its start"
    if not rest:
        close_operation(tx, batch, BatchState.CANCELLED, now)
        return f"operation {batch.id} withdrawn before its start"
    tx.set_batch_units(batch, vertex_ids(tx, rest))
    return f"left operation {batch.id} before its start"


def startable(batch: BatchRow, now: float) -> bool:
    """Not started, no start in flight, and no start whose fate Mistral
    has not told: only then may its units change."""
    if batch.state not in (BatchState.INTENDED, BatchState.RETRY_WAIT):
        return False
    if batch.start_unconfirmed:
        return False
    return batch.lease_until is None or batch.lease_until < now


def close_operation(tx: LedgerTx, batch: BatchRow, state: str,
                    now: float) -> None:
    batch.state, batch.finished_at, batch.open_slot = state, now, None
    batch.lease_owner, batch.lease_until = None, None


def leave(tx: LedgerTx, intent: IntentRow, why: Decision,
           now: float) -> Decision:
    """The unit leaves the queue or its operation, held for `why`."""
    tx.close_intent(intent, IntentState.CANCELLED, now)
    decision = dataclasses.replace(why, unit_key=intent.unit_key,
                                   root_stack_id=intent.root_stack_id)
    if decision.action is Action.HOLD:
        tx.hold_unit(intent.unit_key, decision)
    return decision


def _wait(intents: list[IntentRow], reason: Reason,
          detail: str) -> list[Decision]:
    decisions = []
    for intent in intents:
        if intent.wait_reason == reason.value:
            continue
        intent.wait_reason = reason.value
        decisions.append(Decision(Action.WAIT, reason, detail,
                                  unit_key=intent.unit_key,
                                  root_stack_id=intent.root_stack_id))
    return decisions
