"""The one gate every start of a stack operation passes.

Formation of an operation, its first start, a retry after backoff, a
resume after a crash and the restart of an execution Mistral lost all ask
`Gate.check`: the stack's stages first (operator hold, breaker, Heat busy,
rate), then each unit's (root cause, storm).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Optional

from vitrage_selfheal.decide.gates import START_STACK, START_UNIT
from vitrage_selfheal.decide.overrides import policy_for
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.stage import (
    StackContext,
    UnitContext,
    first_objection,
)
from vitrage_selfheal.ledger.store import LedgerTx
from vitrage_selfheal.ledger.view import LedgerView
from vitrage_selfheal.model import Decision

LOG = logging.getLogger(__name__)

# Heat's status of the root stack; None when it cannot be read.
StatusReader = Callable[[str], Optional[str]]


def read_status(status: StatusReader, root_stack_id: str) -> Optional[str]:
    """Any client failure reads as unknown: the operation waits."""
    try:
        return status(root_stack_id)
    except Exception as exc:
        LOG.warning("stack %s status unreadable: %s", root_stack_id, exc)
        return None


@dataclasses.dataclass(frozen=True)
class GateResult:
    # The whole operation waits (WAIT) or is held (HOLD) for this.
    stop: Optional[Decision] = None
    # Units that must leave the operation, each with why.
    leave: tuple[tuple[str, Decision], ...] = ()

    @property
    def passed(self) -> bool:
        return self.stop is None and not self.leave


class Gate:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def check(self, tx: LedgerTx, root_stack_id: str,
              unit_keys: Sequence[str], now: float,
              stack_status: Optional[str]) -> GateResult:
        view = LedgerView(tx)
        stop = first_objection(START_STACK, StackContext(
            view, now, self.policy, root_stack_id, stack_status))
        if stop is not None:
            return GateResult(stop=stop)
        leave = []
        for key in unit_keys:
            record = view.unit(key)
            if record is None:
                continue
            objection = first_objection(START_UNIT, UnitContext(
                view, now, policy_for(self.policy, record.controls), record))
            if objection is not None:
                leave.append((key, objection))
        return GateResult(leave=tuple(leave))
