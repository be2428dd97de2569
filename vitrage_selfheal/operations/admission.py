"""Admission: a request on a unit becomes decisions, all persisted.

The decide stages say whether a heal goes on; this module applies what
they say to the ledger (alarm bookkeeping, queueing, holding). A held unit
is reconsidered by `Admission.reconsider` (every tick), so a hold never
loses a heal: when its cause lapses and the unit is still unhealthy, it is
healed.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Optional

from vitrage_selfheal.decide.gates import ADMISSION
from vitrage_selfheal.decide.ladder import next_step
from vitrage_selfheal.decide.overrides import policy_for
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.stage import UnitContext, first_objection
from vitrage_selfheal.decide.startup import came_up_sick
from vitrage_selfheal.decide.steps import REPLACE, Step
from vitrage_selfheal.ledger.models import UnitRow
from vitrage_selfheal.ledger.store import AlreadyRecorded, LedgerTx
from vitrage_selfheal.ledger.view import LedgerView, unit_record
from vitrage_selfheal.model import (
    Action,
    Decision,
    GroupRef,
    HealRequest,
    Intent,
    Reason,
    ScaleRequest,
)
from vitrage_selfheal.operations.queue import withdraw
from vitrage_selfheal.operations.scaling import ScaleAdmission

LOG = logging.getLogger(__name__)

# How far ahead of our clock a sender's event time may be (clock skew
# between Vitrage's host and ours) before it is not believed.
FUTURE_TOLERANCE = 300.0


class Admission:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.scaling = ScaleAdmission(policy)

    def _ctx(self, tx: LedgerTx, row: UnitRow, now: float) -> UnitContext:
        return UnitContext(LedgerView(tx), now,
                           policy_for(self.policy, row.controls),
                           unit_record(row))

    # -- entry ---------------------------------------------------------------
    def submit(self, tx: LedgerTx, req: HealRequest,
               now: float) -> list[Decision]:
        row = tx.upsert_unit(req.unit)
        if req.event_time is not None and \
                req.event_time > now + FUTURE_TOLERANCE:
            # A time from the future would make every later event of this
            # alarm stale: it is not believed, arrival order is used.
            LOG.warning("event on %s (%s) dated %.0fs ahead; arrival "
                        "order used", req.unit.key, req.alarm_name,
                        req.event_time - now)
            req = dataclasses.replace(req, event_time=None)
        newer = tx.newer_event(req)
        if newer is not None:
            return [self._ctx(tx, row, now).decide(
                Action.SKIP, Reason.STALE_EVENT,
                f"{'activation' if req.active else 'clear'} of "
                f"{req.alarm_name!r} at {req.event_time:.3f} is older than "
                f"the event already applied at {newer:.3f}")]
        if req.intent is Intent.HEAL:
            return self._heal(tx, row, req, now)
        if req.intent is Intent.SUPPRESS:
            return self._suppress(tx, row, req, now)
        return self._scale(tx, row, req, now)

    # -- heal alarms ---------------------------------------------------------
    def _heal(self, tx: LedgerTx, row: UnitRow, req: HealRequest,
              now: float) -> list[Decision]:
        if not req.active:
            return self._clear(tx, row, req, now)
        raised = raised_at(req, now)
        incident = _activate(tx, req, raised)
        ctx = self._ctx(tx, row, now)
        if incident is None:
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"alarm {req.alarm_name!r} already active "
                               f"on the unit")]
        healed = row.last_healed_at
        if healed is not None and raised <= healed:
            # However late the engine delivers it: the fault it reports is
            # the one the last heal replaced the unit for.
            return [ctx.decide(
                Action.SKIP, Reason.ANSWERED_BY_HEAL,
                f"{req.alarm_name!r} raised {healed - raised:.1f}s before "
                f"the unit's last heal succeeded; answered by that heal")]
        return [self.admit(tx, ctx, incident)]

    def admit(self, tx: LedgerTx, ctx: UnitContext,
              incident: str) -> Decision:
        decision = first_objection(ADMISSION, ctx)
        if decision is not None:
            if decision.action is Action.HOLD:
                tx.hold_unit(ctx.unit.unit_key, decision)
            return decision
        step, escalated, how = self._step(ctx)
        try:
            tx.add_intent(ctx.unit.as_unit(), incident, ctx.now, step.name)
        except AlreadyRecorded:
            return ctx.decide(Action.SKIP, Reason.ALREADY_HEALING,
                              "another replica queued this unit first")
        tx.release_unit(ctx.unit.unit_key)
        queued = (f"incident {incident} queued{how}; coalescing "
                  f"{self.policy.coalesce_window:g}s")
        if escalated:
            return ctx.decide(Action.ACCEPT, Reason.ESCALATED,
                              f"{ctx.unit.remedy} did not heal it: "
                              f"{queued}")
        if came_up_sick(ctx):
            return ctx.decide(Action.ACCEPT, Reason.STARTUP_TIMEOUT,
                              f"never healthy since it came up: {queued}")
        return ctx.decide(Action.ACCEPT, Reason.FIRST_HEAL, queued)

    def _step(self, ctx: UnitContext) -> tuple[Step, bool, str]:
        """The ladder's step for this heal, whether it escalates, and what
        the decision says of it ("" for a plain replacement)."""
        ladder = ctx.policy.remediation_ladder
        step, escalated = next_step(ctx.unit, ladder)
        how = ""
        if step.name != REPLACE and not ctx.unit.physical_id:
            step, how = ladder[-1], " (no physical id to " + step.name + \
                ")"
        if len(ladder) > 1 or escalated:
            how = f" for step {step}" + how
        return step, escalated, how

    def _clear(self, tx: LedgerTx, row: UnitRow, req: HealRequest,
               now: float) -> list[Decision]:
        ctx = self._ctx(tx, row, now)
        if not tx.clear_alarm(req, now):
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"clear of {req.alarm_name!r}, not active")]
        detail = f"alarm {req.alarm_name!r} cleared"
        if tx.active_alarms(row.unit_key, Intent.HEAL):
            return [ctx.decide(Action.CLEAR, Reason.ALARM_CLEARED,
                               detail + "; other alarms keep it unhealthy")]
        if row.held_reason == Reason.VERIFYING.value:
            # A remediation step is judged at its timeout, not by the
            # first quiet moment of a server that is still booting.
            return [ctx.decide(Action.CLEAR, Reason.ALARM_CLEARED,
                               detail + f"; {row.remedy} judged at its "
                               f"timeout")]
        decisions = [ctx.decide(Action.CLEAR, Reason.ALARM_CLEARED, detail)]
        left = withdraw(tx, row.unit_key, now)
        if left is not None:
            decisions[0] = ctx.decide(
                Action.CLEAR, Reason.ALARM_CLEARED,
                detail + f"; {left}, unit recovered by itself")
        tx.release_unit(row.unit_key)
        tx.end_sequence(row.unit_key)
        return decisions

    # -- root causes below the unit -------------------------------------------
    def _suppress(self, tx: LedgerTx, row: UnitRow, req: HealRequest,
                  now: float) -> list[Decision]:
        if not req.active:
            ctx = self._ctx(tx, row, now)
            if not tx.clear_alarm(req, now):
                return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                                   f"clear of {req.alarm_name!r}, "
                                   f"not active")]
            # Reconsidered once the root cause has been clear for the
            # settle time, and healed only if the unit is still unhealthy.
            return [ctx.decide(
                Action.CLEAR, Reason.ROOT_CAUSE_CLEARED,
                f"{req.alarm_name!r} cleared; settling "
                f"{self.policy.root_cause_settle:.0f}s")]
        incident = _activate(tx, req, raised_at(req, now))
        ctx = self._ctx(tx, row, now)
        if incident is None:
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"{req.alarm_name!r} already active")]
        detail = f"root cause {req.alarm_name!r}"
        if req.causes:
            detail += " (" + " -> ".join(req.causes) + ")"
        left = withdraw(tx, row.unit_key, now)
        if left is not None:
            detail += f"; {left}"
        decision = ctx.decide(Action.HOLD, Reason.SUPPRESSED_BY_ROOT_CAUSE,
                              detail)
        tx.hold_unit(row.unit_key, decision)
        return [decision]

    def _scale(self, tx: LedgerTx, row: UnitRow, req: HealRequest,
               now: float) -> list[Decision]:
        incident = _activate(tx, req, now) if req.active else None
        ctx = self._ctx(tx, row, now)
        if req.active and incident is None:
            return [ctx.decide(Action.SKIP, Reason.DUPLICATE,
                               f"{req.alarm_name!r} already active")]
        if not req.active:
            tx.clear_alarm(req, now)
            return [ctx.decide(Action.CLEAR, Reason.ALARM_CLEARED,
                               f"{req.alarm_name!r} cleared")]
        # One unit's vote; the group's open request merges the others.
        vote = ScaleRequest(
            group=GroupRef(root_stack_id=row.root_stack_id,
                           group_stack_id=row.group_key),
            delta=1 if req.intent is Intent.SCALE_OUT else -1,
            source=req.source, alarm_key=incident,
            detail=f"{req.alarm_name!r} on {row.unit_key}")
        return self.scaling.submit(tx, vote, now)

    # -- held units ----------------------------------------------------------
    def reconsider(self, tx: LedgerTx, row: UnitRow,
                   now: float) -> Optional[Decision]:
        """Re-run admission for a held unit; a decision only on change."""
        ctx = self._ctx(tx, row, now)
        was = row.held_reason
        judged = was == Reason.VERIFYING.value
        if judged and row.held_until is not None and now < row.held_until:
            return None
        sick = tx.unanswered_alarms(row)
        if not sick:
            if tx.active_alarms(row.unit_key, Intent.SUPPRESS):
                return None
            tx.release_unit(row.unit_key)
            step = row.remedy
            tx.end_sequence(row.unit_key)
            if judged:
                return ctx.decide(Action.SUCCEED, Reason.REMEDIATED,
                                  f"healthy at the end of {step}'s "
                                  f"timeout: {step} healed it")
            return ctx.decide(Action.CLEAR, Reason.RELEASED,
                              f"no longer unhealthy (was {was})")
        if row.held_until is not None and now < row.held_until:
            return None
        newest = max(sick, key=lambda a: a.since)
        incident = f"{newest.alarm_key}#{newest.activations}"
        decision = self.admit(tx, ctx, incident)
        if decision.action is Action.HOLD and decision.reason.value == was:
            return None
        if decision.action is Action.ACCEPT:
            decision = ctx.decide(Action.ACCEPT, decision.reason,
                                  f"re-evaluated after {was}: "
                                  + decision.detail)
        return decision


def raised_at(req: HealRequest, now: float) -> float:
    """When the alarm was raised: Vitrage's own time of the event if it
    said (already checked not to be in the future), never later than its
    arrival. Arrival order would date an old fault that the engine
    delivers late as a new one."""
    if req.event_time is None:
        return now
    return min(req.event_time, now)


def _activate(tx: LedgerTx, req: HealRequest, now: float) -> Optional[str]:
    try:
        return tx.activate_alarm(req, now)
    except AlreadyRecorded:
        return None
