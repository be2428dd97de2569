"""What the ledger knows of arriving events: the alarms raised on units,
in the order Vitrage saw them, and the signed deliveries already applied.
"""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy import exc, orm

from vitrage_selfheal.ledger.models import AlarmRow, DeliveryRow, UnitRow
from vitrage_selfheal.model import HealRequest, Intent


class AlreadyRecorded(Exception):
    """A concurrent writer got there first; the caller treats it as a dup."""


class IngressTx:
    """Part of LedgerTx: `self.s` is the transaction's session."""

    s: orm.Session

    # -- order ---------------------------------------------------------------
    def newer_event(self, req: HealRequest) -> Optional[float]:
        """Vitrage's time of an applied event on the request's alarm that
        is newer than the request's, if there is one.

        Events of one alarm can arrive out of order (a thread pool in the
        bus listener, a sender's retry, a replay): only the newest event
        says what the alarm is now. Equal times keep arrival order.
        """
        if req.event_time is None:
            return None
        row = self.s.get(AlarmRow, (req.unit.key, req.alarm_key))
        if row is None or row.event_at is None:
            return None
        return row.event_at if req.event_time < row.event_at else None

    @staticmethod
    def _saw(row: AlarmRow, req: HealRequest) -> None:
        # A duplicate moves the time too: an older clear arriving after a
        # re-sent activation must not clear what Vitrage still raises.
        if req.event_time is not None:
            row.event_at = max(row.event_at or req.event_time,
                               req.event_time)

    # -- alarms --------------------------------------------------------------
    def activate_alarm(self, req: HealRequest, now: float) -> Optional[str]:
        """Record an activation; the incident id, or None if already active."""
        row = self.s.get(AlarmRow, (req.unit.key, req.alarm_key))
        if row is None:
            row = AlarmRow(unit_key=req.unit.key, alarm_key=req.alarm_key,
                           alarm_name=req.alarm_name,
                           intent=req.intent.value, active=True, since=now,
                           activations=1, event_at=req.event_time)
            self.s.add(row)
            try:
                self.s.flush()
            except exc.IntegrityError:
                # Another replica recorded the same activation first.
                raise AlreadyRecorded(req.alarm_key) from None
            return f"{req.alarm_key}#1"
        self._saw(row, req)
        if row.active:
            return None
        row.active, row.since, row.cleared_at = True, now, None
        row.activations += 1
        return f"{req.alarm_key}#{row.activations}"

    def clear_alarm(self, req: HealRequest, now: float) -> bool:
        row = self.s.get(AlarmRow, (req.unit.key, req.alarm_key))
        if row is None:
            return False
        self._saw(row, req)
        if not row.active:
            return False
        row.active, row.cleared_at = False, now
        return True

    def active_alarms(self, unit_key: str, intent: Intent) -> list[AlarmRow]:
        return list(self.s.scalars(sa.select(AlarmRow).where(
            AlarmRow.unit_key == unit_key, AlarmRow.active.is_(True),
            AlarmRow.intent == intent.value)))

    def unanswered_alarms(self, unit: UnitRow) -> list[AlarmRow]:
        """Active heal alarms raised after the unit's last heal.

        A heal answers every alarm raised before it succeeded: only a
        later activation is a new incident (this is what keeps a stale or
        slow-to-clear alarm from healing the replacement again).
        """
        return [a for a in self.active_alarms(unit.unit_key, Intent.HEAL)
                if unit.last_healed_at is None
                or a.since > unit.last_healed_at]

    # -- signed deliveries ---------------------------------------------------
    def claim_delivery(self, digest: str, now: float,
                       expires_at: float) -> None:
        """Record a delivery as applied; AlreadyRecorded if it was."""
        if self.s.get(DeliveryRow, digest) is not None:
            raise AlreadyRecorded(digest)
        try:
            with self.s.begin_nested():
                self.s.add(DeliveryRow(digest=digest, seen_at=now,
                                       expires_at=expires_at))
        except exc.IntegrityError:
            raise AlreadyRecorded(digest) from None

    def prune_deliveries(self, now: float) -> int:
        """Forget deliveries whose signature has expired anyway."""
        done = self.s.execute(
            sa.delete(DeliveryRow).where(DeliveryRow.expires_at < now)
            .execution_options(synchronize_session=False))
        return done.rowcount or 0
