"""What a stage sees, and the shape of a stage.

A stage is a pure function of its context: it reads the history view and
returns a Decision that stops the operation here, or None. Applying the
decision (holding the unit, queueing it) is the ledger's job.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Protocol, Union

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.view import HistoryView
from vitrage_selfheal.model import Action, Decision, Reason, UnitRecord


@dataclasses.dataclass(frozen=True)
class StackContext:
    """A start of an operation on a root stack."""

    view: HistoryView
    now: float
    policy: Policy
    root_stack_id: str
    # Heat's stack_status, read by the caller; None when unreadable.
    stack_status: Optional[str] = None

    def decide(self, action: Action, reason: Reason, detail: str = "",
               until: Optional[float] = None) -> Decision:
        return Decision(action, reason, detail,
                        root_stack_id=self.root_stack_id, until=until)


@dataclasses.dataclass(frozen=True)
class UnitContext:
    """A heal of one unit, at admission or at the start of its operation."""

    view: HistoryView
    now: float
    policy: Policy
    unit: UnitRecord

    @property
    def root_stack_id(self) -> str:
        return self.unit.root_stack_id

    def decide(self, action: Action, reason: Reason, detail: str = "",
               until: Optional[float] = None) -> Decision:
        return Decision(action, reason, detail, unit_key=self.unit.unit_key,
                        root_stack_id=self.unit.root_stack_id, until=until)


Context = Union[StackContext, UnitContext]


class Stage(Protocol):
    def check(self, ctx: Context) -> Optional[Decision]:
        """None lets the operation go on; a decision stops it here."""


def first_objection(stages: tuple[Stage, ...],
                    ctx: Context) -> Optional[Decision]:
    for stage in stages:
        decision = stage.check(ctx)
        if decision is not None:
            return decision
    return None
