"""The named reasons every decision carries; persisted by value."""

from __future__ import annotations

import dataclasses
import enum
from typing import Optional


class Action(str, enum.Enum):
    ACCEPT = "accept"        # queued for the next batch of its stack
    SKIP = "skip"            # nothing to do (duplicate, cooldown, ...)
    HOLD = "hold"            # kept, healed later if still unhealthy
    WAIT = "wait"            # kept, retried on the next tick
    DISPATCH = "dispatch"    # a Mistral execution was started
    RETRY = "retry"
    SUCCEED = "succeed"
    FAIL = "fail"
    REJECT = "reject"        # malformed input, never healed
    CLEAR = "clear"          # an alarm went away
    SCALE = "scale"


class Reason(str, enum.Enum):
    FIRST_HEAL = "FIRST_HEAL"
    ALREADY_HEALING = "ALREADY_HEALING"
    DUPLICATE = "DUPLICATE"
    COOLDOWN = "COOLDOWN"
    FLAPPING = "FLAPPING"
    STORM_GUARD = "STORM_GUARD"
    RATE_LIMITED = "RATE_LIMITED"
    HELD_BY_OPERATOR = "HELD_BY_OPERATOR"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    SUPPRESSED_BY_ROOT_CAUSE = "SUPPRESSED_BY_ROOT_CAUSE"
    STACK_IN_PROGRESS = "STACK_IN_PROGRESS"
    STACK_BUSY = "STACK_BUSY"                  # our own execution still runs
    STACK_STATUS_UNKNOWN = "STACK_STATUS_UNKNOWN"
    COALESCED = "COALESCED"
    BATCH_DISPATCHED = "BATCH_DISPATCHED"
    DISPATCH_FAILED = "DISPATCH_FAILED"
    EXECUTION_SUCCEEDED = "EXECUTION_SUCCEEDED"
    EXECUTION_FAILED = "EXECUTION_FAILED"
    EXECUTION_STUCK = "EXECUTION_STUCK"
    RETRY_BACKOFF = "RETRY_BACKOFF"
    ALARM_CLEARED = "ALARM_CLEARED"
    ROOT_CAUSE_CLEARED = "ROOT_CAUSE_CLEARED"
    RELEASED = "RELEASED"
    MALFORMED = "MALFORMED"
    UNRESOLVED_TEMPLATE = "UNRESOLVED_TEMPLATE"
    UNKNOWN_EVENT = "UNKNOWN_EVENT"
    NOT_A_UNIT = "NOT_A_UNIT"
    SCALE_REQUESTED = "SCALE_REQUESTED"


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason
    detail: str = ""
    unit_key: Optional[str] = None
    root_stack_id: Optional[str] = None
    batch_id: Optional[str] = None
    # A HOLD that lapses by itself (cooldown, flap window) says when.
    until: Optional[float] = None

    @property
    def proceeds(self) -> bool:
        return self.action is Action.ACCEPT

    def __str__(self) -> str:
        where = self.unit_key or self.root_stack_id or "-"
        text = f"{self.action.value}/{self.reason.value} {where}"
        return f"{text}: {self.detail}" if self.detail else text
