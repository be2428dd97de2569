"""The ledger as the read-only HistoryView the decide stages need.

Rows become frozen records here, so no stage can change the database by
accident; writes go through LedgerTx.
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.ledger.models import (
    AlarmRow,
    HoldRow,
    IntentRow,
    UnitRow,
)
from vitrage_selfheal.ledger.scales import scale_record
from vitrage_selfheal.ledger.store import LedgerTx
from vitrage_selfheal.model import (
    AlarmRecord,
    HoldRecord,
    Intent,
    IntentRecord,
    ScaleRecord,
    UnitRecord,
)


def unit_record(row: UnitRow) -> UnitRecord:
    return UnitRecord(
        unit_key=row.unit_key, root_stack_id=row.root_stack_id,
        stack_id=row.stack_id, resource_name=row.resource_name,
        group_key=row.group_key, physical_id=row.physical_id,
        group_size=row.group_size, held_reason=row.held_reason,
        held_until=row.held_until, last_healed_at=row.last_healed_at,
        born_at=row.born_at, controls=row.controls,
        heal_times=_times(row.heal_times), remedy=row.remedy,
        remedy_at=row.remedy_at, remedy_times=_times(row.remedy_times))


def _times(text: Optional[str]) -> tuple[float, ...]:
    """Space-separated epoch seconds, as the units table keeps them."""
    return tuple(float(t) for t in (text or "").split())


def alarm_record(row: AlarmRow) -> AlarmRecord:
    return AlarmRecord(
        unit_key=row.unit_key, alarm_key=row.alarm_key,
        alarm_name=row.alarm_name, intent=row.intent, active=row.active,
        since=row.since, cleared_at=row.cleared_at,
        activations=row.activations)


def intent_record(row: IntentRow) -> IntentRecord:
    return IntentRecord(
        id=row.id, unit_key=row.unit_key, root_stack_id=row.root_stack_id,
        incident=row.incident, state=row.state, created_at=row.created_at,
        batch_id=row.batch_id)


def hold_record(row: HoldRow) -> HoldRecord:
    return HoldRecord(scope=row.scope, kind=row.kind, reason=row.reason,
                      since=row.since)


class LedgerView:
    """HistoryView (decide/view.py) over one ledger transaction."""

    def __init__(self, tx: LedgerTx) -> None:
        self._tx = tx

    def unit(self, unit_key: str) -> Optional[UnitRecord]:
        row = self._tx.unit(unit_key)
        return unit_record(row) if row is not None else None

    def hold_for(self, root_stack_id: str) -> Optional[HoldRecord]:
        row = self._tx.hold_for(root_stack_id)
        return hold_record(row) if row is not None else None

    def active_alarms(self, unit_key: str,
                      intent: Intent) -> list[AlarmRecord]:
        return [alarm_record(r)
                for r in self._tx.active_alarms(unit_key, intent)]

    def last_cleared(self, unit_key: str,
                     intent: Intent) -> Optional[float]:
        return self._tx.last_cleared(unit_key, intent)

    def open_intent(self, unit_key: str) -> Optional[IntentRecord]:
        row = self._tx.open_intent(unit_key)
        return intent_record(row) if row is not None else None

    def unhealthy_in_group(self, group_key: str) -> list[str]:
        return self._tx.unhealthy_in_group(group_key)

    def held_in_group(self, group_key: str, reason: str) -> list[str]:
        return self._tx.held_in_group(group_key, reason)

    def starts_since(self, since: float) -> int:
        return self._tx.starts_since(since)

    def last_admitted(self, unit_key: str) -> Optional[str]:
        return self._tx.last_admitted(unit_key)

    def open_scale(self, group_key: str) -> Optional[ScaleRecord]:
        row = self._tx.open_scale(group_key)
        return scale_record(row) if row is not None else None

    def last_scaled(self, group_key: str) -> Optional[float]:
        return self._tx.last_scaled(group_key)
