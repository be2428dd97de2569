"""Stages that stop a stack's operations by an operator's or a breaker's
word. They read only the root stack, so they gate units and stacks alike."""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import Context
from vitrage_selfheal.model import (
    GLOBAL_SCOPE,
    Action,
    Decision,
    HoldKind,
    Reason,
)


class OperatorHold:
    """`vitrage-selfheal hold [--stack]`: the kill switch."""

    def check(self, ctx: Context) -> Optional[Decision]:
        hold = ctx.view.hold_for(ctx.root_stack_id)
        if hold is None or hold.kind != HoldKind.OPERATOR:
            return None
        where = "all stacks" if hold.scope == GLOBAL_SCOPE else "this stack"
        return ctx.decide(Action.HOLD, Reason.HELD_BY_OPERATOR,
                          f"{where} held: {hold.reason}")


class CircuitBreaker:
    """A stack whose operations kept failing is not touched until released."""

    def check(self, ctx: Context) -> Optional[Decision]:
        hold = ctx.view.hold_for(ctx.root_stack_id)
        if hold is None or hold.kind != HoldKind.BREAKER:
            return None
        return ctx.decide(Action.HOLD, Reason.CIRCUIT_OPEN,
                          f"circuit open: {hold.reason}; "
                          f"'vitrage-selfheal release --stack "
                          f"{ctx.root_stack_id}' closes it")


class TrustHold:
    """The stack's operations run under its owner's trust, which Keystone
    refused: nothing starts on it until a new trust is created."""

    def check(self, ctx: Context) -> Optional[Decision]:
        hold = ctx.view.hold_for(ctx.root_stack_id)
        if hold is None or hold.kind != HoldKind.TRUST:
            return None
        return ctx.decide(Action.HOLD, Reason.TRUST_INVALID,
                          f"{hold.reason}; 'vitrage-selfheal trust create "
                          f"--stack {ctx.root_stack_id}' (as the stack's "
                          f"owner) releases it")
