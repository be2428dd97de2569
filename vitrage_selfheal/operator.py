"""The operator's kill switches (`hold`, `release`, global or per stack),
shadow mode (`shadow`), manual scaling (`scale`) and the stacks' trusts
(`trust_stored`).

Plain functions over the ledger so the CLI needs no Mistral or Heat.
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.ledger.store import (
    GLOBAL_SCOPE,
    HoldKind,
    Ledger,
    stack_scope,
)
from vitrage_selfheal.model import (
    Action,
    Decision,
    GroupRef,
    Reason,
    ScaleRequest,
)


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


def pause(ledger: Ledger, now: float, name: str, reason: str = "",
          root_stack_id: Optional[str] = None, who: str = "",
          replica: str = "") -> str:
    """Add a named pause request; heals of the scope wait until every
    pause on it (and every global one) is resumed."""
    scope = _scope(root_stack_id)
    with ledger.transaction() as tx:
        new = tx.add_pause(scope, name, who, reason, now)
        detail = (f"{scope}: pause {name!r} by {who or '?'}: "
                  f"{reason or 'no reason'}"
                  + ("" if new else " (was there; reason updated)"))
        tx.record(Decision(Action.HOLD, Reason.PAUSED, detail,
                           root_stack_id=root_stack_id),
                  now, "operator", replica=replica)
    return detail


def resume(ledger: Ledger, now: float, name: str,
           root_stack_id: Optional[str] = None,
           replica: str = "") -> tuple[bool, list[str]]:
    """Lift one pause request: whether it was there, and the names of the
    pauses still on the scope."""
    scope = _scope(root_stack_id)
    with ledger.transaction() as tx:
        found = tx.remove_pause(scope, name)
        left = [p.name for p in tx.pauses() if p.scope == scope]
        if found:
            detail = f"{scope}: pause {name!r} resumed; " + (
                f"still paused by {', '.join(left)}" if left else
                "no pause left: held units are reconsidered")
            tx.record(Decision(Action.CLEAR, Reason.RELEASED, detail,
                               root_stack_id=root_stack_id),
                      now, "operator", replica=replica)
    return found, left


def shadow(ledger: Ledger, now: float, on: bool,
           root_stack_id: Optional[str] = None, reason: str = "",
           replica: str = "") -> str:
    """Shadow mode on or off for a stack (or all stacks). Off: the units
    it held SHADOW are reconsidered on the next tick and heal for real."""
    scope = _scope(root_stack_id)
    with ledger.transaction() as tx:
        if on:
            tx.set_hold(scope, HoldKind.SHADOW, reason, now)
            detail = f"{scope}: shadow mode on ({reason or 'no reason'}): " \
                     f"decided and recorded, nothing started"
        else:
            tx.remove_holds(scope, HoldKind.SHADOW)
            woken = tx.unhold_shadowed(root_stack_id)
            detail = f"{scope}: shadow mode off; {woken} unit(s) held " \
                     f"SHADOW reconsidered"
        tx.record(Decision(Action.HOLD if on else Action.CLEAR,
                           Reason.SHADOW_MODE, detail,
                           root_stack_id=root_stack_id),
                  now, "operator", replica=replica)
    return detail


def scale(ledger: Ledger, now: float, policy: Policy, group: GroupRef,
          delta: int, who: str = "operator",
          replica: str = "") -> list[Decision]:
    """Queue a manual scale of a group; the service's ticker forms and
    runs it (reading the group's bounds from Heat then)."""
    from vitrage_selfheal.operations.scaling import ScaleAdmission

    request = ScaleRequest(group=group, delta=delta, source="operator",
                           manual=True, detail=f"by {who}")
    with ledger.transaction() as tx:
        decisions = ScaleAdmission(policy).submit(tx, request, now)
        for decision in decisions:
            tx.record(decision, now, "operator", replica=replica)
            tx.count(f"decisions.{decision.reason.value}")
    return decisions


def trust_stored(ledger: Ledger, now: float, root_stack_id: str,
                 trust_id: str, trustor_user_id: str, project_id: str,
                 replica: str = "") -> int:
    """Keep the stack's new trust (its id only) and lift a TRUST_INVALID
    hold: the held units are reconsidered, a waiting operation starts."""
    with ledger.transaction() as tx:
        tx.set_trust(root_stack_id, trust_id, trustor_user_id, project_id,
                     now)
        lifted = tx.remove_holds(stack_scope(root_stack_id), HoldKind.TRUST)
        detail = f"trust {trust_id} of user {trustor_user_id} (project " \
                 f"{project_id})"
        if lifted:
            detail += "; TRUST_INVALID hold lifted"
        tx.record(Decision(Action.CLEAR, Reason.TRUST_CREATED, detail,
                           root_stack_id=root_stack_id),
                  now, "operator", replica=replica)
    return lifted


def trust_dropped(ledger: Ledger, root_stack_id: str) -> Optional[str]:
    """Forget the stack's trust (its id, if it had one): its operations
    run as our service user again."""
    with ledger.transaction() as tx:
        row = tx.drop_trust(root_stack_id)
        return row.trust_id if row is not None else None
