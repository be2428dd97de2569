"""The holds part of a ledger transaction: operator holds, breakers and
trust holds (the holds table), named pause requests (pauses) and shadow
mode (kept with the holds, stopping nothing). A mixin of LedgerTx."""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy import orm

from vitrage_selfheal.ledger.models import HoldRow, PauseRow, UnitRow
from vitrage_selfheal.model import GLOBAL_SCOPE, HoldKind, Reason, stack_scope

SCOPES = (HoldRow.scope == GLOBAL_SCOPE) | (
    HoldRow.scope == sa.bindparam("stack_scope"))
# Shadow mode is kept with the holds but stops nothing.
STOPS = SCOPES & (HoldRow.kind != HoldKind.SHADOW)
PAUSE_SCOPES = (PauseRow.scope == GLOBAL_SCOPE) | (
    PauseRow.scope == sa.bindparam("stack_scope"))
_HOLDS_FOR = sa.select(HoldRow).where(STOPS)
_PAUSES_FOR = sa.select(PauseRow).where(PAUSE_SCOPES).order_by(
    PauseRow.since, PauseRow.name)
# Which hold a stack shows when it has several: the operator's, then
# pause requests, then breakers and trust holds.
_RANK = {HoldKind.OPERATOR: 0, HoldKind.PAUSE: 1}
_SHADOW_FOR = sa.select(HoldRow).where(
    SCOPES & (HoldRow.kind == HoldKind.SHADOW))


class HoldsTx:
    """Part of LedgerTx: `self.s` is the transaction's session; the hold
    cache is cleared on every change of holds or pauses."""

    s: orm.Session
    _hold_cache: dict[str, Optional[HoldRow]]

    def holds(self) -> list[HoldRow]:
        return list(self.s.scalars(sa.select(HoldRow).order_by(
            HoldRow.scope)))

    def hold_for(self, root_stack_id: str) -> Optional[HoldRow]:
        """The hold that stops heals of this stack, operator holds first."""
        if root_stack_id in self._hold_cache:
            return self._hold_cache[root_stack_id]
        rows = self.s.scalars(_HOLDS_FOR,
                              {"stack_scope": stack_scope(root_stack_id)})
        ordered = sorted(rows, key=lambda r: (_RANK.get(r.kind, 2),
                                              r.scope != GLOBAL_SCOPE))
        found = ordered[0] if ordered else None
        if found is not None and found.kind == HoldKind.PAUSE:
            found = self._paused(root_stack_id, found)
        self._hold_cache[root_stack_id] = found
        return found

    def _paused(self, root_stack_id: str, marker: HoldRow) -> HoldRow:
        """The stack's pause requests, named, as one hold (a copy: the
        stored marker row is not changed)."""
        pauses = list(self.s.scalars(
            _PAUSES_FOR, {"stack_scope": stack_scope(root_stack_id)}))
        text = "; ".join(f"{p.name} ({p.scope}, by {p.who or '?'}): "
                         f"{p.reason or 'no reason'}" for p in pauses)
        return HoldRow(scope=marker.scope, kind=HoldKind.PAUSE,
                       reason=f"{len(pauses)} pause request(s): {text}",
                       since=marker.since)

    def pauses(self) -> list[PauseRow]:
        return list(self.s.scalars(sa.select(PauseRow).order_by(
            PauseRow.scope, PauseRow.since)))

    def add_pause(self, scope: str, name: str, who: str, reason: str,
                  now: float) -> bool:
        """False if that pause was there already (its reason updated)."""
        self._hold_cache.clear()
        row = self.s.get(PauseRow, (scope, name))
        if row is not None:
            row.reason, row.who = reason, who
            return False
        self.s.add(PauseRow(scope=scope, name=name, who=who, reason=reason,
                            since=now))
        if self.s.get(HoldRow, (scope, HoldKind.PAUSE)) is None:
            # A marker in the holds table: admission's one EXISTS on it
            # sees the pause (a second EXISTS on pauses costs every
            # decision ~1 ms on PostgreSQL).
            self.s.add(HoldRow(scope=scope, kind=HoldKind.PAUSE,
                               reason="pause requests", since=now))
        return True

    def remove_pause(self, scope: str, name: str) -> bool:
        self._hold_cache.clear()
        row = self.s.get(PauseRow, (scope, name))
        if row is None:
            return False
        self.s.delete(row)
        self.s.flush()
        if self.s.scalar(sa.select(sa.func.count()).select_from(PauseRow)
                         .where(PauseRow.scope == scope)) == 0:
            marker = self.s.get(HoldRow, (scope, HoldKind.PAUSE))
            if marker is not None:
                self.s.delete(marker)
        return True

    def shadow_for(self, root_stack_id: str) -> Optional[HoldRow]:
        """The stack's shadow mode (its own, else the global one)."""
        rows = self.s.scalars(_SHADOW_FOR,
                              {"stack_scope": stack_scope(root_stack_id)})
        ordered = sorted(rows, key=lambda r: r.scope == GLOBAL_SCOPE)
        return ordered[0] if ordered else None

    def unhold_shadowed(self, root_stack_id: Optional[str]) -> int:
        """Units held SHADOW (of the stack, or of all) are reconsidered on
        the next tick instead of after their cooldown."""
        q = sa.select(UnitRow).where(
            UnitRow.held_reason == Reason.SHADOW.value)
        if root_stack_id is not None:
            q = q.where(UnitRow.root_stack_id == root_stack_id)
        rows = list(self.s.scalars(q))
        for row in rows:
            row.held_until = None
        return len(rows)

    def set_hold(self, scope: str, kind: str, reason: str,
                 now: float) -> None:
        self._hold_cache.clear()
        row = self.s.get(HoldRow, (scope, kind))
        if row is None:
            self.s.add(HoldRow(scope=scope, kind=kind, reason=reason,
                               since=now))
        else:
            row.reason = reason

    def remove_holds(self, scope: str, kind: Optional[str] = None) -> int:
        self._hold_cache.clear()
        q = sa.select(HoldRow).where(HoldRow.scope == scope)
        if kind is not None:
            q = q.where(HoldRow.kind == kind)
        else:
            # `release` lifts holds and breakers; shadow mode and pause
            # requests (each resumed by name) stay.
            q = q.where(HoldRow.kind.not_in((HoldKind.SHADOW,
                                             HoldKind.PAUSE)))
        rows = list(self.s.scalars(q))
        for row in rows:
            self.s.delete(row)
        return len(rows)
