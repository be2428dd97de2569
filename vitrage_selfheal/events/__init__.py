"""Heal lifecycle notifications for the oslo.messaging bus.

Which decisions become which notification is decided here, without I/O
(bus.py publishes): other tools — and Vitrage itself, as an alarm source —
see a heal start, end or fail, and a unit held, the way they see Nova's
and Heat's own notifications.

    selfheal.heal.start    an operation's execution was started (DISPATCH)
    selfheal.heal.end      it succeeded (SUCCEED)
    selfheal.heal.error    an attempt failed (RETRY: another follows) or the
                           operation failed (FAIL)
    selfheal.hold.<reason> a unit or operation is held, e.g.
                           selfheal.hold.storm_guard, selfheal.hold.cooldown
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from vitrage_selfheal.model import Action, Decision, Reason

__all__ = ["EVENT_TYPES", "Lifecycle", "lifecycle_of", "payload_of"]

_BY_ACTION = {
    Action.DISPATCH: ("selfheal.heal.start", "info"),
    Action.SUCCEED: ("selfheal.heal.end", "info"),
    Action.RETRY: ("selfheal.heal.error", "warn"),
    Action.FAIL: ("selfheal.heal.error", "error"),
}


# Every event type a decision can make, for listeners that subscribe by
# exact type (Vitrage's drivers do).
EVENT_TYPES = tuple(sorted(
    {event for event, _priority in _BY_ACTION.values()}
    | {f"selfheal.hold.{reason.value.lower()}" for reason in Reason}))


@dataclasses.dataclass(frozen=True)
class Lifecycle:
    event_type: str
    # oslo.messaging's Notifier method: info, warn or error.
    priority: str


def lifecycle_of(decision: Decision) -> Optional[Lifecycle]:
    """The notification a decision makes, or None (most make none)."""
    if decision.action is Action.HOLD:
        return Lifecycle(f"selfheal.hold.{decision.reason.value.lower()}",
                         "info")
    found = _BY_ACTION.get(decision.action)
    return Lifecycle(*found) if found else None


def payload_of(decision: Decision, at: float, replica: str,
               operation: Optional[tuple[str, str]] = None
               ) -> dict[str, Any]:
    """The notification's payload; `operation` is the decision's
    operation's (execution id, kind) when it belongs to one."""
    execution_id, kind = operation or (None, None)
    return {"unit": decision.unit_key,
            "root_stack_id": decision.root_stack_id,
            "action": decision.action.value,
            "reason": decision.reason.value,
            "detail": decision.detail,
            "operation_id": decision.batch_id,
            "operation_kind": kind,
            "execution_id": execution_id,
            "retrying": decision.action is Action.RETRY,
            "held_until": decision.until,
            "at": at,
            "replica": replica}
