"""Admission: a request on a unit becomes decisions, all persisted.

The stages run in order and the first that objects decides. A held unit is
reconsidered by `Pipeline.reconsider` (every tick), so a hold never loses a
heal: when its cause lapses and the unit is still unhealthy, it is healed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Optional

from vitrage_selfheal.decide.dedup import AlreadyHealing, Cooldown
from vitrage_selfheal.decide.flap import FlapDamping
from vitrage_selfheal.decide.holds import CircuitBreaker, OperatorHold
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.reasons import Action, Decision, Reason
from vitrage_selfheal.decide.stage import Context, Stage
from vitrage_selfheal.decide.storm import StormGuard
from vitrage_selfheal.decide.suppress import RootCauseSuppression
from vitrage_selfheal.ledger.models import UnitRow
from vitrage_selfheal.ledger.store import (
    AlreadyRecorded,
    IntentState,
    LedgerTx,
)
from vitrage_selfheal.model import HealRequest, Intent

LOG = logging.getLogger(__name__)

ADMISSION: tuple[Stage, ...] = (
    OperatorHold(), CircuitBreaker(), RootCauseSuppression(),
    AlreadyHealing(), Cooldown(), FlapDamping(), StormGuard())

# Checked again when a batch forms: the world may have changed in the window.
AT_DISPATCH: tuple[Stage, ...] = (
    OperatorHold(), CircuitBreaker(), RootCauseSuppression(), StormGuard())


class Pipeline:
    def __init__(self, policy: Policy,
                 stages: Sequence[Stage] = ADMISSION) -> None:
        self.policy = policy
        self.stages = tuple(stages)

    # -- entry ---------------------------------------------------------------
    def submit(self, tx: LedgerTx, req: HealRequest,
               now: float) -> list[Decision]:
        unit = tx.upsert_unit(req.unit)
        ctx = Context(tx, unit, now, self.policy)
        if req.intent is Intent.HEAL:
            return self._heal(ctx, req)
        if req.intent is Intent.SUPPRESS:
            return self._suppress(ctx, req)
        return self._scale(ctx, req)

    # -- heal alarms ---------------------------------------------------------
    def _heal(self, ctx: Context, req: HealRequest) -> list[Decision]:
        if not req.active:
            return self._clear(ctx, req)
        incident = _activate(ctx, req)
        if incident is None:
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"alarm {req.alarm_name!r} already active "
                               f"on the unit")]
        return [self.admit(ctx, incident)]

    def admit(self, ctx: Context, incident: str,
              stages: Optional[Sequence[Stage]] = None) -> Decision:
        for stage in stages or self.stages:
            decision = stage.check(ctx)
            if decision is not None:
                if decision.action is Action.HOLD:
                    hold_unit(ctx.unit, decision)
                return decision
        try:
            ctx.tx.add_intent(ctx.tx.as_unit(ctx.unit), incident, ctx.now)
        except AlreadyRecorded:
            return ctx.decide(Action.SKIP, Reason.ALREADY_HEALING,
                              "another replica queued this unit first")
        release_unit(ctx.unit)
        return ctx.decide(Action.ACCEPT, Reason.FIRST_HEAL,
                          f"incident {incident} queued; coalescing "
                          f"{self.policy.coalesce_window:g}s")

    def _clear(self, ctx: Context, req: HealRequest) -> list[Decision]:
        if not ctx.tx.clear_alarm(req, ctx.now):
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"clear of {req.alarm_name!r}, not active")]
        detail = f"alarm {req.alarm_name!r} cleared"
        if ctx.tx.active_alarms(ctx.unit.unit_key, Intent.HEAL):
            return [ctx.decide(Action.CLEAR, Reason.ALARM_CLEARED,
                               detail + "; other alarms keep it unhealthy")]
        cancelled = _cancel_pending(ctx)
        if cancelled:
            detail += "; queued heal cancelled, unit recovered by itself"
        release_unit(ctx.unit)
        return [ctx.decide(Action.CLEAR, Reason.ALARM_CLEARED, detail)]

    # -- root causes below the unit -------------------------------------------
    def _suppress(self, ctx: Context, req: HealRequest) -> list[Decision]:
        if not req.active:
            if not ctx.tx.clear_alarm(req, ctx.now):
                return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                                   f"clear of {req.alarm_name!r}, "
                                   f"not active")]
            # The next reconsider heals the unit if it is still unhealthy.
            return [ctx.decide(Action.CLEAR, Reason.ROOT_CAUSE_CLEARED,
                               f"{req.alarm_name!r} cleared")]
        if _activate(ctx, req) is None:
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"{req.alarm_name!r} already active")]
        detail = f"root cause {req.alarm_name!r}"
        if req.causes:
            detail += " (" + " -> ".join(req.causes) + ")"
        if _cancel_pending(ctx):
            detail += "; queued heal withdrawn"
        decision = ctx.decide(Action.HOLD, Reason.SUPPRESSED_BY_ROOT_CAUSE,
                              detail)
        hold_unit(ctx.unit, decision)
        return [decision]

    def _scale(self, ctx: Context, req: HealRequest) -> list[Decision]:
        if req.active and _activate(ctx, req) is None:
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"{req.alarm_name!r} already active")]
        if not req.active:
            ctx.tx.clear_alarm(req, ctx.now)
            return [ctx.decide(Action.CLEAR, Reason.ALARM_CLEARED,
                               f"{req.alarm_name!r} cleared")]
        # Recorded so the scaling flow can be audited before it acts.
        return [ctx.decide(Action.SCALE, Reason.SCALE_REQUESTED,
                           f"{req.intent.value} of group "
                           f"{ctx.unit.group_key} requested by "
                           f"{req.alarm_name!r}; not executed (autoscaling "
                           f"is not enabled)")]

    # -- held units ----------------------------------------------------------
    def reconsider(self, tx: LedgerTx, unit: UnitRow,
                   now: float) -> Optional[Decision]:
        """Re-run admission for a held unit; a decision only on change."""
        ctx = Context(tx, unit, now, self.policy)
        sick = tx.unanswered_alarms(unit)
        if not sick:
            was = unit.held_reason
            if tx.active_alarms(unit.unit_key, Intent.SUPPRESS):
                return None
            release_unit(unit)
            return ctx.decide(Action.CLEAR, Reason.RELEASED,
                              f"no longer unhealthy (was {was})")
        if unit.held_until is not None and now < unit.held_until:
            return None
        was = unit.held_reason
        newest = max(sick, key=lambda a: a.since)
        incident = f"{newest.alarm_key}#{newest.activations}"
        decision = self.admit(ctx, incident)
        if decision.action is Action.HOLD and decision.reason.value == was:
            return None
        if decision.action is Action.ACCEPT:
            decision = ctx.decide(Action.ACCEPT, Reason.FIRST_HEAL,
                                  f"re-evaluated after {was}: "
                                  + decision.detail)
        return decision


def _activate(ctx: Context, req: HealRequest) -> Optional[str]:
    try:
        return ctx.tx.activate_alarm(req, ctx.now)
    except AlreadyRecorded:
        return None


def hold_unit(unit: UnitRow, decision: Decision) -> None:
    unit.held_reason = decision.reason.value
    unit.held_detail = decision.detail
    unit.held_until = decision.until


def release_unit(unit: UnitRow) -> None:
    unit.held_reason, unit.held_detail, unit.held_until = None, "", None


def _cancel_pending(ctx: Context) -> bool:
    intent = ctx.tx.open_intent(ctx.unit.unit_key)
    if intent is None or intent.state != IntentState.PENDING:
        return False
    ctx.tx.close_intent(intent, IntentState.CANCELLED, ctx.now)
    return True
