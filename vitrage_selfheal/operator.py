"""The operator's kill switches: `hold` and `release`, global or per stack.

Plain functions over the ledger so the CLI needs no Mistral or Heat.
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.ledger.store import (
    GLOBAL_SCOPE,
    HoldKind,
    Ledger,
    stack_scope,
)
from vitrage_selfheal.model import Action, Decision, Reason


def _scope(root_stack_id: Optional[str]) -> str:
    return stack_scope(root_stack_id) if root_stack_id else GLOBAL_SCOPE


def hold(ledger: Ledger, now: float, reason: str,
         root_stack_id: Optional[str] = None, replica: str = "") -> str:
    scope = _scope(root_stack_id)
    with ledger.transaction() as tx:
        tx.set_hold(scope, HoldKind.OPERATOR, reason, now)
        tx.record(Decision(Action.HOLD, Reason.HELD_BY_OPERATOR,
                           f"{scope}: {reason}", root_stack_id=root_stack_id),
                  now, "operator", replica=replica)
    return scope


def release(ledger: Ledger, now: float, root_stack_id: Optional[str] = None,
            replica: str = "") -> int:
    """Lift holds and breakers; held units are reconsidered next tick."""
    scope = _scope(root_stack_id)
    with ledger.transaction() as tx:
        lifted = tx.remove_holds(scope)
        tx.record(Decision(Action.CLEAR, Reason.RELEASED,
                           f"{scope}: {lifted} hold(s) lifted",
                           root_stack_id=root_stack_id),
                  now, "operator", replica=replica)
    return lifted
