"""What `/metrics` shows, read from the ledger in one transaction.

The ledger is the record of every decision and operation, shared by all
replicas: reading the numbers from it (and not from counters each process
keeps) makes every replica's scrape agree with `history` and `status`,
also across restarts. Rows of decisions, intents and operations are never
deleted, so the totals only grow.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import sqlalchemy as sa

from vitrage_selfheal.ledger.models import (
    OPEN,
    AlarmRow,
    AttemptRow,
    BatchRow,
    CounterRow,
    DecisionRow,
    HoldRow,
    IntentRow,
    UnitRow,
)
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import BatchState

__all__ = ["LedgerStats", "read"]

# The ledger's own copies of the decision counts; the decisions table is
# the source of those.
_DECISION_COUNTER_PREFIX = "decisions."


@dataclasses.dataclass(frozen=True)
class LedgerStats:
    decisions: dict[tuple[str, str], int]        # (action, reason) -> rows
    attempts: dict[tuple[str, str], int]         # (kind, outcome) -> rows
    operations: dict[tuple[str, str], int]       # (kind, state) -> rows
    held_units: dict[tuple[str, str], int]       # (reason, group) -> units
    holds: tuple[tuple[str, str, float], ...]    # (scope, kind, since)
    oldest_open: dict[str, float]                # kind -> created_at
    open_intents: dict[str, int]                 # state -> intents
    # (kind, seconds) per unit of an operation: from the unit's fault to
    # the operation's first start, and to its success.
    fault_to_dispatch: tuple[tuple[str, float], ...]
    fault_to_healed: tuple[tuple[str, float], ...]
    counters: dict[str, int]


def read(ledger: Ledger, now: float) -> LedgerStats:
    """The numbers as of `now` (a hold whose time has passed is not
    counted, even before the next tick reconsiders it)."""
    with ledger.transaction() as tx:
        s = tx.s
        first_start = (sa.select(AttemptRow.batch_id,
                                 sa.func.min(AttemptRow.started_at)
                                 .label("started_at"))
                       .group_by(AttemptRow.batch_id).subquery())
        per_unit = s.execute(
            sa.select(IntentRow.unit_key, IntentRow.incident,
                      IntentRow.created_at, BatchRow.kind, BatchRow.state,
                      BatchRow.finished_at, first_start.c.started_at)
            .join(BatchRow, BatchRow.id == IntentRow.batch_id)
            .join(first_start, first_start.c.batch_id == BatchRow.id,
                  isouter=True)).all()
        since = {(r.unit_key, r.alarm_key): r.since for r in s.execute(
            sa.select(AlarmRow.unit_key, AlarmRow.alarm_key,
                      AlarmRow.since))}
        return LedgerStats(
            decisions=_grouped(s, DecisionRow.action, DecisionRow.reason),
            attempts=_grouped_attempts(s),
            operations=_grouped(s, BatchRow.kind, BatchRow.state),
            held_units=_grouped(
                s, UnitRow.held_reason, UnitRow.group_key,
                where=UnitRow.held_reason.is_not(None)
                & (UnitRow.held_until.is_(None) | (UnitRow.held_until > now))),
            holds=tuple((h.scope, h.kind, h.since)
                        for h in s.scalars(sa.select(HoldRow))),
            oldest_open=dict(s.execute(
                sa.select(BatchRow.kind, sa.func.min(BatchRow.created_at))
                .where(BatchRow.open_slot == OPEN)
                .group_by(BatchRow.kind)).all()),
            open_intents=dict(s.execute(
                sa.select(IntentRow.state, sa.func.count())
                .where(IntentRow.open_slot == OPEN)
                .group_by(IntentRow.state)).all()),
            fault_to_dispatch=tuple(
                (r.kind, r.started_at - _fault_at(r, since))
                for r in per_unit if r.started_at is not None),
            fault_to_healed=tuple(
                (r.kind, r.finished_at - _fault_at(r, since))
                for r in per_unit if r.state == BatchState.SUCCESS
                and r.finished_at is not None),
            counters={r.name: r.value for r in s.scalars(
                sa.select(CounterRow)) if not r.name.startswith(
                    _DECISION_COUNTER_PREFIX)})


def _grouped(s, *columns, where: Optional[sa.ColumnElement] = None
             ) -> dict[tuple[str, ...], int]:
    q = sa.select(*columns, sa.func.count()).group_by(*columns)
    if where is not None:
        q = q.where(where)
    return {tuple(row[:-1]): row[-1] for row in s.execute(q)}


def _grouped_attempts(s) -> dict[tuple[str, str], int]:
    q = (sa.select(BatchRow.kind, AttemptRow.outcome, sa.func.count())
         .join(BatchRow, BatchRow.id == AttemptRow.batch_id)
         .group_by(BatchRow.kind, AttemptRow.outcome))
    return {(kind, outcome): n for kind, outcome, n in s.execute(q)}


def _fault_at(row, since: dict[tuple[str, str], float]) -> float:
    """When the unit's fault was first seen: its alarm's activation, if
    the alarm still shows this activation; else the intent's creation
    (an alarm raised again since keeps only its newest time)."""
    alarm_key = row.incident.rpartition("#")[0]
    raised = since.get((row.unit_key, alarm_key))
    if raised is not None and raised <= row.created_at:
        return raised
    return row.created_at
