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
    HoldRecord,
    Reason,
)


class _HoldOfKind:
    """A hold of one kind on the stack (or on all stacks) stops it."""

    kind: str
    reason: Reason

    def check(self, ctx: Context) -> Optional[Decision]:
        hold = ctx.view.hold_for(ctx.root_stack_id)
        if hold is None or hold.kind != self.kind:
            return None
        return ctx.decide(Action.HOLD, self.reason, self.explain(hold, ctx))

    def explain(self, hold: HoldRecord, ctx: Context) -> str:
        raise NotImplementedError


class OperatorHold(_HoldOfKind):
    """`vitrage-selfheal hold [--stack]`: the kill switch."""

    kind, reason = HoldKind.OPERATOR, Reason.HELD_BY_OPERATOR

    def explain(self, hold: HoldRecord, ctx: Context) -> str:
        where = "all stacks" if hold.scope == GLOBAL_SCOPE else "this stack"
        return f"{where} held: {hold.reason}"


class PauseHold(_HoldOfKind):
    """`vitrage-selfheal pause --name N`: several may be on a stack, each
    with who and why; heals wait until every one is resumed."""

    kind, reason = HoldKind.PAUSE, Reason.PAUSED

    def explain(self, hold: HoldRecord, ctx: Context) -> str:
        return f"{hold.reason}; each is lifted with 'vitrage-selfheal " \
               f"resume --name NAME'"


class CircuitBreaker(_HoldOfKind):
    """A stack whose operations kept failing is not touched until released."""

    kind, reason = HoldKind.BREAKER, Reason.CIRCUIT_OPEN

    def explain(self, hold: HoldRecord, ctx: Context) -> str:
        return (f"circuit open: {hold.reason}; 'vitrage-selfheal release "
                f"--stack {ctx.root_stack_id}' closes it")


class TrustHold(_HoldOfKind):
    """The stack's operations run under its owner's trust, which Keystone
    refused: nothing starts on it until a new trust is created."""

    kind, reason = HoldKind.TRUST, Reason.TRUST_INVALID

    def explain(self, hold: HoldRecord, ctx: Context) -> str:
        return (f"{hold.reason}; 'vitrage-selfheal trust create --stack "
                f"{ctx.root_stack_id}' (as the stack's owner) releases it")
