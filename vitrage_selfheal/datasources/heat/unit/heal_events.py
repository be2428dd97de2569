"""heal_state kept fresh from vitrage-selfheal's own lifecycle
notifications (events/): a heal started, ended or failed, a unit held. The
unit's vertex gets its new heal_state at once, without a Heat read, not at
the next snapshot. A mixin of HeatUnitDriver, under its lock.
"""

from __future__ import annotations

from collections.abc import Callable

from vitrage_selfheal.datasources.heat.unit.properties import UnitProps as P
from vitrage_selfheal.datasources.heat.unit.properties import unit_id
from vitrage_selfheal.model import Unit


class HealEvents:
    _units: dict[str, dict[str, dict]]
    heal_state: Callable[[str], str]

    def _on_heal_event(self, payload: dict) -> list[dict]:
        if not isinstance(payload, dict):
            return []
        root = payload.get("root_stack_id")
        units = self._units.get(root) if isinstance(root, str) else None
        if not units:
            return []
        unit = payload.get("unit")
        if isinstance(unit, str) and unit:
            # The payload's unit key is the ledger's (stack/resource).
            found = units.get(f"{root}/{unit}")
            targets = [found] if found is not None else []
        else:
            # An operation's decision: every unit of its root stack.
            targets = list(units.values())
        events = []
        for event in targets:
            state = self.heal_state(Unit(event[P.ROOT_STACK_ID],
                                         event[P.STACK_ID],
                                         event[P.RESOURCE_NAME]).key)
            if state != event.get(P.HEAL_STATE):
                changed = dict(event, **{P.HEAL_STATE: state})
                units[unit_id(changed)] = changed
                events.append(dict(changed))
        return events
