"""Stages on the root stack as a whole: Heat busy, the global rate."""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import StackContext
from vitrage_selfheal.model import Action, Decision, Reason

RATE_WINDOW = 60.0


def settled(status: Optional[str]) -> bool:
    return status is not None and not status.endswith("_IN_PROGRESS")


class StackSettled:
    """Heat is not updating or scaling the root stack (409 otherwise, or a
    superseded update under convergence)."""

    def check(self, ctx: StackContext) -> Optional[Decision]:
        if settled(ctx.stack_status):
            return None
        if ctx.stack_status is None:
            return ctx.decide(Action.WAIT, Reason.STACK_STATUS_UNKNOWN,
                              "root stack status unreadable")
        return ctx.decide(Action.WAIT, Reason.STACK_IN_PROGRESS,
                          f"root stack is {ctx.stack_status}")


class RateLimit:
    def check(self, ctx: StackContext) -> Optional[Decision]:
        recent = ctx.view.starts_since(ctx.now - RATE_WINDOW)
        if recent < ctx.policy.max_dispatches_per_minute:
            return None
        return ctx.decide(Action.WAIT, Reason.RATE_LIMITED,
                          f"{recent} executions started in the last minute "
                          f"(max {ctx.policy.max_dispatches_per_minute})")
