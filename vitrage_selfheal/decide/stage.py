"""What every admission stage sees, and the shape of a stage."""

from __future__ import annotations

import dataclasses
from typing import Optional, Protocol

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.reasons import Action, Decision, Reason
from vitrage_selfheal.ledger.models import UnitRow
from vitrage_selfheal.ledger.store import LedgerTx


@dataclasses.dataclass
class Context:
    tx: LedgerTx
    unit: UnitRow
    now: float
    policy: Policy

    def decide(self, action: Action, reason: Reason, detail: str = "",
               until: Optional[float] = None) -> Decision:
        return Decision(action, reason, detail, unit_key=self.unit.unit_key,
                        root_stack_id=self.unit.root_stack_id, until=until)


class Stage(Protocol):
    def check(self, ctx: Context) -> Optional[Decision]:
        """None lets the heal go on; a decision stops it here."""
