"""The scaling part of a ledger transaction: a group's scale requests,
and the trusts stack operations run under. A mixin of LedgerTx, as
batches.py is."""

from __future__ import annotations

import json
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import exc, orm

from vitrage_selfheal.ledger.ingress import AlreadyRecorded
from vitrage_selfheal.ledger.models import OPEN, ScaleRow, TrustRow, UnitRow
from vitrage_selfheal.model import IntentState, ScaleRecord, ScaleRequest


class ScaleTx:
    """Part of LedgerTx: `self.s` is the transaction's session."""

    s: orm.Session

    def open_scale(self, group_key: str) -> Optional[ScaleRow]:
        return self.s.scalar(sa.select(ScaleRow).where(
            ScaleRow.group_key == group_key, ScaleRow.open_slot == OPEN))

    def open_scales(self, root_stack_id: Optional[str] = None
                    ) -> list[ScaleRow]:
        q = sa.select(ScaleRow).where(ScaleRow.open_slot == OPEN)
        if root_stack_id is not None:
            q = q.where(ScaleRow.root_stack_id == root_stack_id)
        return list(self.s.scalars(q.order_by(ScaleRow.id)))

    def batch_scale(self, batch_id: str) -> Optional[ScaleRow]:
        return self.s.scalar(sa.select(ScaleRow).where(
            ScaleRow.batch_id == batch_id))

    def add_scale(self, request: ScaleRequest, now: float) -> ScaleRow:
        group = request.group
        row = ScaleRow(root_stack_id=group.root_stack_id,
                       group_key=group.key,
                       parent_stack_id=group.parent_stack_id,
                       resource_name=group.resource_name,
                       delta=request.delta, source=request.source,
                       alarm_key=request.alarm_key, manual=request.manual,
                       state=IntentState.PENDING, created_at=now,
                       updated_at=now, plan="", open_slot=OPEN)
        self.s.add(row)
        try:
            with self.s.begin_nested():
                self.s.flush()
        except exc.IntegrityError:
            raise AlreadyRecorded(group.key) from None
        return row

    def close_scale(self, row: ScaleRow, state: str, now: float) -> None:
        row.state, row.updated_at, row.open_slot = state, now, None

    def last_scaled(self, group_key: str) -> Optional[float]:
        return self.s.scalar(sa.select(sa.func.max(ScaleRow.updated_at))
                             .where(ScaleRow.group_key == group_key,
                                    ScaleRow.state == IntentState.DONE))

    def scales(self, root_stack_id: Optional[str] = None,
               limit: int = 100) -> list[ScaleRow]:
        q = sa.select(ScaleRow).order_by(ScaleRow.id.desc())
        if root_stack_id is not None:
            q = q.where(ScaleRow.root_stack_id == root_stack_id)
        return list(reversed(self.s.scalars(q.limit(limit)).all()))

    # -- trusts (the owner's delegation for the stack's operations) ---------
    def trust_for(self, root_stack_id: str) -> Optional[TrustRow]:
        return self.s.get(TrustRow, root_stack_id)

    def trusts(self) -> list[TrustRow]:
        return list(self.s.scalars(sa.select(TrustRow).order_by(
            TrustRow.root_stack_id)))

    def set_trust(self, root_stack_id: str, trust_id: str, trustor: str,
                  project_id: str, now: float) -> None:
        row = self.s.get(TrustRow, root_stack_id)
        if row is None:
            self.s.add(TrustRow(root_stack_id=root_stack_id,
                                trust_id=trust_id, trustor_user_id=trustor,
                                project_id=project_id, created_at=now))
            return
        row.trust_id, row.trustor_user_id = trust_id, trustor
        row.project_id, row.created_at = project_id, now

    def drop_trust(self, root_stack_id: str) -> Optional[TrustRow]:
        row = self.s.get(TrustRow, root_stack_id)
        if row is not None:
            self.s.delete(row)
        return row

    def born(self, unit_key: str, now: float) -> None:
        row = self.s.get(UnitRow, unit_key)
        if row is not None:
            row.born_at = now


def scale_record(row: ScaleRow) -> ScaleRecord:
    return ScaleRecord(id=row.id, group_key=row.group_key,
                       root_stack_id=row.root_stack_id, delta=row.delta,
                       state=row.state, created_at=row.created_at,
                       manual=row.manual, batch_id=row.batch_id)


def plan_of(row: ScaleRow) -> dict[str, Any]:
    try:
        return json.loads(row.plan) if row.plan else {}
    except ValueError:
        return {}
