"""What the ledger knows of arriving events: the alarms raised on units,
in the order Vitrage saw them, and the signed deliveries already applied.
"""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy import orm

from vitrage_selfheal.ledger.models import AlarmRow, DeliveryRow, UnitRow
from vitrage_selfheal.ledger.upsert import Writer, adopt, update
from vitrage_selfheal.model import HealRequest, Intent

# A unit's alarms, every one of them: a unit has a handful, and one
# request asks about them up to five times (order, activation, root
# causes, the last clear, what is left active).
_ALARMS_OF_UNIT = sa.select(AlarmRow).where(
    AlarmRow.unit_key == sa.bindparam("unit_key"))


class AlreadyRecorded(Exception):
    """A concurrent writer got there first; the caller treats it as a dup."""


class IngressTx:
    """Part of LedgerTx: `self.s` is the transaction's session."""

    s: orm.Session
    writer: Writer
    # unit_key -> {alarm_key: row}: the unit's alarms as this transaction
    # sees them. Every write to an alarm goes through this class, on these
    # same row objects, so the map stays what the database holds for us.
    _alarm_cache: dict[str, dict[str, AlarmRow]]

    def _alarms(self, unit_key: str) -> dict[str, AlarmRow]:
        found = self._alarm_cache.get(unit_key)
        if found is None:
            rows = self.s.scalars(_ALARMS_OF_UNIT, {"unit_key": unit_key})
            found = self._alarm_cache[unit_key] = {
                r.alarm_key: r for r in rows}
        return found

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
        row = self._alarms(req.unit.key).get(req.alarm_key)
        if row is None or row.event_at is None:
            return None
        return row.event_at if req.event_time < row.event_at else None

    @staticmethod
    def _seen(row: AlarmRow, req: HealRequest) -> dict[str, object]:
        # A duplicate moves the time too: an older clear arriving after a
        # re-sent activation must not clear what Vitrage still raises.
        if req.event_time is None:
            return {}
        return {"event_at": max(row.event_at or req.event_time,
                                req.event_time)}

    # -- alarms --------------------------------------------------------------
    def activate_alarm(self, req: HealRequest, now: float) -> Optional[str]:
        """Record an activation; the incident id, or None if already active."""
        alarms = self._alarms(req.unit.key)
        row = alarms.get(req.alarm_key)
        if row is None:
            values = dict(unit_key=req.unit.key, alarm_key=req.alarm_key,
                          alarm_name=req.alarm_name,
                          intent=req.intent.value, active=True, since=now,
                          cleared_at=None, activations=1,
                          event_at=req.event_time)
            if not self.writer.insert_new(self.s, AlarmRow.__table__,
                                          values):
                # Another replica recorded the same activation first.
                raise AlreadyRecorded(req.alarm_key)
            alarms[req.alarm_key] = adopt(self.s, AlarmRow, values)
            return f"{req.alarm_key}#1"
        was_active = row.active
        changes = self._seen(row, req)
        if not was_active:
            changes.update(active=True, since=now, cleared_at=None,
                           activations=row.activations + 1)
        update(self.s, row, changes)
        return None if was_active else f"{req.alarm_key}#{row.activations}"

    def clear_alarm(self, req: HealRequest, now: float) -> bool:
        row = self._alarms(req.unit.key).get(req.alarm_key)
        if row is None:
            return False
        was_active = row.active
        changes = self._seen(row, req)
        if was_active:
            changes.update(active=False, cleared_at=now)
        update(self.s, row, changes)
        return was_active

    def active_alarms(self, unit_key: str, intent: Intent) -> list[AlarmRow]:
        alarms = self._alarms(unit_key)
        return [alarms[k] for k in sorted(alarms)
                if alarms[k].active and alarms[k].intent == intent.value]

    def last_cleared(self, unit_key: str, intent: Intent) -> Optional[float]:
        """When an alarm of this intent on the unit last cleared, if one
        did and is not active again."""
        times = [a.cleared_at for a in self._alarms(unit_key).values()
                 if not a.active and a.intent == intent.value
                 and a.cleared_at is not None]
        return max(times, default=None)

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
        if not self.writer.insert_new(
                self.s, DeliveryRow.__table__,
                {"digest": digest, "seen_at": now,
                 "expires_at": expires_at}):
            raise AlreadyRecorded(digest)

    def prune_deliveries(self, now: float) -> int:
        """Forget deliveries whose signature has expired anyway."""
        done = self.s.execute(
            sa.delete(DeliveryRow).where(DeliveryRow.expires_at < now)
            .execution_options(synchronize_session=False))
        return done.rowcount or 0
