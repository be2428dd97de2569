"""The operations part of a ledger transaction: batches (one operation on
one root stack) and their attempts (one try each). A mixin of LedgerTx,
kept apart so each module stays readable.
"""

from __future__ import annotations

import json
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import exc, orm

from vitrage_selfheal.ledger.ingress import AlreadyRecorded
from vitrage_selfheal.ledger.models import (
    OPEN,
    AttemptRow,
    BatchRow,
    IntentRow,
)
from vitrage_selfheal.model import IntentState


class BatchTx:
    """Part of LedgerTx: `self.s` is the transaction's session."""

    s: orm.Session

    # -- batches -------------------------------------------------------------
    def batch(self, batch_id: Optional[str]) -> Optional[BatchRow]:
        return self.s.get(BatchRow, batch_id) if batch_id else None

    def open_batch(self, root_stack_id: str) -> Optional[BatchRow]:
        return self.s.scalar(sa.select(BatchRow).where(
            BatchRow.root_stack_id == root_stack_id,
            BatchRow.open_slot == OPEN))

    def open_batches(self) -> list[BatchRow]:
        return list(self.s.scalars(sa.select(BatchRow).where(
            BatchRow.open_slot == OPEN).order_by(BatchRow.created_at)))

    def add_batch(self, batch: BatchRow, intents: list[IntentRow]) -> None:
        self.s.add(batch)
        for intent in intents:
            intent.state, intent.batch_id = IntentState.BATCHED, batch.id
            intent.updated_at = batch.created_at
        try:
            self.s.flush()
        except exc.IntegrityError:
            raise AlreadyRecorded(batch.root_stack_id) from None

    def claim_batch(self, batch_id: str, state: str, owner: str,
                    now: float, lease: float) -> bool:
        """Take the right to start this batch; False if a live lease of
        another replica holds it, or its state moved on."""
        done = self.s.execute(
            sa.update(BatchRow)
            .where(BatchRow.id == batch_id, BatchRow.state == state,
                   sa.or_(BatchRow.lease_until.is_(None),
                          BatchRow.lease_until < now,
                          BatchRow.lease_owner == owner))
            .values(lease_owner=owner, lease_until=now + lease)
            .execution_options(synchronize_session=False))
        return done.rowcount == 1

    def move_batch(self, batch_id: str, from_state: str,
                   **values: object) -> Optional[BatchRow]:
        """Compare-and-set on the batch state: the row, or None if another
        replica moved it first."""
        done = self.s.execute(
            sa.update(BatchRow)
            .where(BatchRow.id == batch_id, BatchRow.state == from_state)
            .values(**values)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            return None
        return self.s.get(BatchRow, batch_id, populate_existing=True)

    def set_batch_units(self, batch: BatchRow,
                        vertex_ids: list[str]) -> None:
        batch.units = json.dumps(sorted(vertex_ids))

    # -- attempts ------------------------------------------------------------
    def add_attempt(self, batch: BatchRow, now: float) -> AttemptRow:
        row = AttemptRow(batch_id=batch.id, attempt=batch.attempt,
                         execution_id=batch.execution_id, started_at=now,
                         outcome=AttemptOutcome.STARTED, detail="")
        self.s.add(row)
        return row

    def finish_attempt(self, batch: BatchRow, outcome: str, now: float,
                       detail: str = "") -> None:
        row = self.s.scalar(sa.select(AttemptRow).where(
            AttemptRow.batch_id == batch.id,
            AttemptRow.execution_id == batch.execution_id,
            AttemptRow.finished_at.is_(None)).order_by(
            AttemptRow.id.desc()).limit(1))
        if row is not None:
            row.outcome, row.finished_at, row.detail = outcome, now, detail

    def attempts(self, batch_id: str) -> list[AttemptRow]:
        return list(self.s.scalars(sa.select(AttemptRow).where(
            AttemptRow.batch_id == batch_id).order_by(AttemptRow.id)))

    def starts_since(self, since: float) -> int:
        return self.s.scalar(sa.select(sa.func.count()).select_from(
            AttemptRow).where(AttemptRow.started_at >= since)) or 0


class AttemptOutcome:
    STARTED = "STARTED"
    START_FAILED = "START_FAILED"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STUCK = "STUCK"
    LOST = "LOST"
    SHADOW = "SHADOW"          # shadow mode: not started on purpose


def batch_units(batch: BatchRow) -> list[str]:
    return json.loads(batch.units)
