"""The heal_state of a unit as the vitrage-selfheal ledger records it.

Shown on the unit vertex so operators (and templates) see in Vitrage
that a unit is being replaced or why it is left alone. Optional: the
datasource runs without a ledger, and an unreadable ledger only empties
the property.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from vitrage_selfheal.datasources.heat.unit.properties import HealState

LOG = logging.getLogger(__name__)

HealStateFn = Callable[[str], str]


def no_heal_state(unit_key: str) -> str:
    return HealState.NONE


class LedgerHealState:
    """`heal_state(unit_key)` read from a `Ledger` (unit keys as in model)."""

    def __init__(self, ledger: Any,
                 clock: Callable[[], float] = time.time,
                 healed_for: float = 300.0) -> None:
        self._ledger = ledger
        self._clock = clock
        # HEALED is news for a cooldown, not forever.
        self._healed_for = healed_for
        self._failing = False

    def __call__(self, unit_key: str) -> str:
        try:
            with self._ledger.transaction() as tx:
                state = self._state(tx, unit_key)
        except Exception as exc:
            # Once per outage: a snapshot asks for every unit.
            if not self._failing:
                LOG.warning("heal_state: ledger unreadable (%s); "
                            "heal_state left empty", exc)
            self._failing = True
            return HealState.NONE
        self._failing = False
        return state

    def _state(self, tx: Any, unit_key: str) -> str:
        from vitrage_selfheal.ledger.store import HoldKind
        from vitrage_selfheal.model import Reason

        if tx.open_intent(unit_key) is not None:
            return HealState.HEALING
        row = tx.unit(unit_key)
        if row is None:
            return HealState.NONE
        if row.held_reason and (row.held_until is None
                                or row.held_until > self._clock()):
            return HealState.held(row.held_reason)
        hold = tx.hold_for(row.root_stack_id)
        if hold is not None:
            reason = {HoldKind.OPERATOR: Reason.HELD_BY_OPERATOR,
                      HoldKind.PAUSE: Reason.PAUSED,
                      HoldKind.TRUST: Reason.TRUST_INVALID}.get(
                hold.kind, Reason.CIRCUIT_OPEN)
            return HealState.held(reason.value)
        if row.last_healed_at is not None and \
                self._clock() - row.last_healed_at < self._healed_for:
            return HealState.HEALED
        return HealState.NONE


def from_url(url: str, healed_for: float = 300.0) -> HealStateFn:
    """A ledger-backed heal_state, or one that is always empty."""
    if not url:
        return no_heal_state
    from vitrage_selfheal.ledger.store import Ledger

    return LedgerHealState(Ledger(url), healed_for=healed_for)
