"""Coalescing: the queued units of one root stack become one batch.

A batch forms once the oldest queued unit of a stack has waited the
coalescing window, no batch of that stack is open, the stack has settled
(no update or scaling running) and the global rate allows it. Whatever
cannot go yet stays queued with a named WAIT, logged once per change.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from typing import Optional

from vitrage_selfheal.decide.pipeline import AT_DISPATCH, Pipeline, hold_unit
from vitrage_selfheal.decide.reasons import Action, Decision, Reason
from vitrage_selfheal.decide.stage import Context
from vitrage_selfheal.dispatch.execution_id import execution_id_for
from vitrage_selfheal.ledger.models import BatchRow, IntentRow
from vitrage_selfheal.ledger.store import (
    AlreadyRecorded,
    BatchState,
    IntentState,
    LedgerTx,
)

LOG = logging.getLogger(__name__)

# Heat's status of the root stack; None when it cannot be read.
StatusReader = Callable[[str], Optional[str]]


def settled(status: Optional[str]) -> bool:
    return status is not None and not status.endswith("_IN_PROGRESS")


class Coalescer:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.policy = pipeline.policy

    def stacks_due(self, tx: LedgerTx, now: float) -> list[str]:
        """Root stacks whose oldest queued unit has waited the window."""
        due = []
        pending = sorted(tx.pending_intents(), key=lambda i: i.root_stack_id)
        for stack, group in itertools.groupby(pending,
                                              key=lambda i: i.root_stack_id):
            oldest = min(i.created_at for i in group)
            if now - oldest >= self.policy.coalesce_window:
                due.append(stack)
        return due

    def form(self, tx: LedgerTx, root_stack_id: str, now: float,
             status: StatusReader) -> tuple[Optional[BatchRow],
                                             list[Decision]]:
        """Try to form the stack's next batch; persisted as INTENDED."""
        intents = [i for i in tx.pending_intents()
                   if i.root_stack_id == root_stack_id]
        if not intents:
            return None, []
        if tx.open_batch(root_stack_id) is not None:
            return None, _wait(tx, intents, Reason.STACK_BUSY,
                               "previous heal of this stack still open")
        decisions, intents = self._regate(tx, intents, now)
        if not intents:
            return None, decisions
        try:
            stack_status = status(root_stack_id)
        except Exception as exc:  # any client failure: keep, retry later
            LOG.warning("stack %s status unreadable: %s", root_stack_id, exc)
            stack_status = None
        if not settled(stack_status):
            reason = (Reason.STACK_IN_PROGRESS if stack_status
                      else Reason.STACK_STATUS_UNKNOWN)
            return None, decisions + _wait(
                tx, intents, reason, f"root stack is {stack_status}")
        recent = tx.batches_since(now - 60.0)
        if recent >= self.policy.max_dispatches_per_minute:
            return None, decisions + _wait(
                tx, intents, Reason.RATE_LIMITED,
                f"{recent} heals started in the last minute")
        return self._batch(tx, root_stack_id, intents, now, decisions)

    def _regate(self, tx: LedgerTx, intents: list[IntentRow],
                now: float) -> tuple[list[Decision], list[IntentRow]]:
        decisions, keep = [], []
        for intent in intents:
            unit = tx.unit(intent.unit_key)
            ctx = Context(tx, unit, now, self.policy)
            held = next((d for d in (s.check(ctx) for s in AT_DISPATCH)
                         if d is not None), None)
            if held is None:
                keep.append(intent)
                continue
            tx.close_intent(intent, IntentState.CANCELLED, now)
            hold_unit(unit, held)
            decisions.append(held)
        return decisions, keep

    def _batch(self, tx: LedgerTx, root_stack_id: str,
               intents: list[IntentRow], now: float,
               decisions: list[Decision]) -> tuple[Optional[BatchRow],
                                                   list[Decision]]:
        units = [tx.as_unit(tx.unit(i.unit_key)) for i in intents]
        keys = [u.key for u in units]
        incidents = [i.incident for i in intents]
        exec_id = execution_id_for(root_stack_id, keys, incidents, 1)
        batch = BatchRow(
            id=exec_id, root_stack_id=root_stack_id,
            state=BatchState.INTENDED, attempt=1, execution_id=exec_id,
            units=json.dumps(sorted(u.vertex_id for u in units)),
            reason="; ".join(sorted(set(incidents))), created_at=now,
            output="")
        try:
            tx.add_batch(batch, intents)
        except AlreadyRecorded:
            return None, decisions
        decisions.append(Decision(
            Action.ACCEPT, Reason.COALESCED,
            f"{len(units)} unit(s) in one heal: " + ", ".join(sorted(keys)),
            root_stack_id=root_stack_id, batch_id=batch.id))
        return batch, decisions


def _wait(tx: LedgerTx, intents: list[IntentRow], reason: Reason,
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
