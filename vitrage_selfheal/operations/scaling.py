"""Scale requests: admitted per group, then formed into the root stack's
next operation on the same queue as heals.

Rules (each a test in tests/unit/test_scaling.py):
- never two operations on one root stack: a scale waits for an open heal
  (STACK_BUSY) and a heal for an open scale;
- a scale-in takes the group's queued unhealthy units first: they are
  marked, so Heat's removal (FAILED members first) takes them, and they
  are REMOVED_BY_SCALE_IN instead of healed; a unit whose heal is running
  is never in a scale, since nothing else runs on the stack;
- with the CAPACITY method a scale-out and the stack's queued heals are
  one stack update (marked units replaced, capacity changed); a scale-in
  marks only its victims (Heat removes the oldest FAILED member first, so
  another marked unit could go in a victim's place): the other heals go
  in the next operation; with SIGNAL, Heat runs the resize itself and a
  heal cannot ride along: queued heals go first and the scale waits for
  them (STACK_BUSY).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Optional

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.scale import SCALE_ADMISSION, ScaleContext, bound
from vitrage_selfheal.decide.stage import first_objection
from vitrage_selfheal.ledger.models import IntentRow, ScaleRow
from vitrage_selfheal.ledger.scales import plan_of
from vitrage_selfheal.ledger.store import AlreadyRecorded, LedgerTx
from vitrage_selfheal.ledger.view import LedgerView
from vitrage_selfheal.model import (
    Action,
    Decision,
    GroupInfo,
    GroupRef,
    IntentState,
    Reason,
    ScaleMethod,
    ScalePlan,
    ScaleRequest,
)

LOG = logging.getLogger(__name__)

# Heat's view of a group; raises or returns None when it cannot be read.
GroupReader = Callable[[GroupRef], Optional[GroupInfo]]


def read_group(reader: Optional[GroupReader],
               ref: GroupRef) -> Optional[GroupInfo]:
    """Any failure reads as unknown: the scale waits, it is not lost."""
    if reader is None:
        return None
    try:
        return reader(ref)
    except Exception as exc:
        LOG.warning("group %s of stack %s unreadable: %s", ref.key,
                    ref.root_stack_id, exc)
        return None


def scale_decision(row: ScaleRow, action: Action, reason: Reason,
                   detail: str, batch_id: Optional[str] = None) -> Decision:
    return Decision(action, reason, f"group {row.group_key}: {detail}",
                    root_stack_id=row.root_stack_id,
                    batch_id=batch_id or row.batch_id)


def group_ref(row: ScaleRow) -> GroupRef:
    return GroupRef(root_stack_id=row.root_stack_id,
                    group_stack_id=row.group_key,
                    parent_stack_id=row.parent_stack_id,
                    resource_name=row.resource_name)


class ScaleAdmission:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def submit(self, tx: LedgerTx, req: ScaleRequest,
               now: float) -> list[Decision]:
        if req.delta == 0:
            return [Decision(Action.REJECT, Reason.MALFORMED,
                             f"scale of group {req.group.key} by 0",
                             root_stack_id=req.group.root_stack_id)]
        ctx = ScaleContext(LedgerView(tx), now, self.policy, req)
        stop = first_objection(SCALE_ADMISSION, ctx)
        open_ = tx.open_scale(req.group.key)
        if stop is not None:
            if (stop.reason is Reason.SCALE_MERGED and req.manual
                    and open_ is not None and open_.batch_id is None
                    and (open_.delta > 0) == (req.delta > 0)):
                # An operator's "--by N" adds up; an alarm's vote does not.
                open_.delta += req.delta
                open_.updated_at = now
                return [scale_decision(
                    open_, Action.SCALE, Reason.SCALE_MERGED,
                    f"{req.delta:+d} added to request {open_.id}, now "
                    f"{open_.delta:+d}")]
            return [stop]
        replaced = ""
        if open_ is not None:
            # The opposite direction, not yet in an operation: the newer
            # request reflects the load now.
            tx.close_scale(open_, IntentState.CANCELLED, now)
            replaced = f"; replaces queued request {open_.id} " \
                       f"({open_.delta:+d})"
        try:
            row = tx.add_scale(req, now)
        except AlreadyRecorded:
            return [Decision(Action.SKIP, Reason.SCALE_MERGED,
                             f"another replica queued a scale of group "
                             f"{req.group.key} first",
                             root_stack_id=req.group.root_stack_id)]
        reason = Reason.SCALE_OUT if req.delta > 0 else Reason.SCALE_IN
        why = req.detail or req.alarm_key or req.source
        return [scale_decision(row, Action.SCALE, reason,
                               f"{req.delta:+d} queued ({why}){replaced}")]


class ScaleForming:
    """The scale part of forming a stack's next operation."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def plan(self, tx: LedgerTx, root_stack_id: str,
             groups: Mapping[str, Optional[GroupInfo]], now: float,
             intents: list[IntentRow]
             ) -> tuple[Optional[ScaleRow], Optional[ScalePlan],
                        list[Decision]]:
        """The stack's scale to run now, and its plan; requests that cannot
        move (AT_MAX, AT_MIN, unsupported) are closed with their reason."""
        decisions: list[Decision] = []
        for row in tx.open_scales(root_stack_id):
            if row.state != IntentState.PENDING:
                continue
            info = groups.get(row.group_key)
            if info is None:
                decisions += wait_scale(row, Reason.GROUP_UNREADABLE,
                                        "its size and bounds cannot be read "
                                        "from Heat; asked again next tick")
                continue
            bounded = bound(row.delta, info, root_stack_id)
            if bounded.decision is not None:
                tx.close_scale(row, IntentState.CANCELLED, now)
                decisions.append(scale_decision(
                    row, bounded.decision.action, bounded.decision.reason,
                    bounded.decision.detail))
                continue
            plan = _plan(row, info, bounded.target, intents)
            if plan is None:
                tx.close_scale(row, IntentState.CANCELLED, now)
                decisions.append(scale_decision(
                    row, Action.SKIP, Reason.SCALE_UNSUPPORTED,
                    f"no scaling policy of the group adjusts it "
                    f"{'up' if row.delta > 0 else 'down'}"))
                continue
            if plan.method is ScaleMethod.SIGNAL and any(
                    i.unit_key not in plan.victims for i in intents):
                decisions += wait_scale(row, Reason.STACK_BUSY,
                                   "resized by its scaling policy's signal, "
                                   "which cannot carry a heal: the queued "
                                   "heals go first")
                continue
            return row, plan, decisions
        return None, None, decisions


def _plan(row: ScaleRow, info: GroupInfo, target: int,
          intents: list[IntentRow]) -> Optional[ScalePlan]:
    victims: tuple[str, ...] = ()
    if target < info.size:
        own = sorted((i for i in intents
                      if i.unit_key.startswith(row.group_key + "/")),
                     key=lambda i: i.id)
        victims = tuple(i.unit_key for i in own[:info.size - target])
    policy = None
    if info.method is ScaleMethod.SIGNAL:
        up = target > info.size
        fitting = [(name, adj) for name, adj in info.policies
                   if adj and (adj > 0) == up]
        if not fitting:
            return None
        policy, adjustment = min(fitting, key=lambda p: abs(p[1]))
        target = max(info.min_size, info.size + adjustment)
        if info.max_size is not None:
            target = min(target, info.max_size)
    ref = group_ref(row)
    ref = dataclasses.replace(
        ref, parent_stack_id=info.parent_stack_id or ref.parent_stack_id,
        resource_name=info.resource_name or ref.resource_name)
    return ScalePlan(group=ref, method=info.method,
                     size_before=info.size, target=target,
                     capacity_parameter=info.capacity_parameter,
                     policy=policy, victims=victims)


def attach(tx: LedgerTx, row: ScaleRow, plan: ScalePlan, batch_id: str,
           now: float) -> None:
    row.state, row.batch_id, row.updated_at = IntentState.BATCHED, \
        batch_id, now
    row.wait_reason = None
    row.plan = json.dumps(plan.as_dict(), sort_keys=True)


def drop_victims(row: ScaleRow, unit_keys: Collection[str]
                 ) -> Optional[ScalePlan]:
    """Units that left a scale before its start are no longer its
    victims; the plan as it stands now."""
    plan = stored_plan(row)
    if plan is not None and set(plan.victims) & set(unit_keys):
        plan = dataclasses.replace(plan, victims=tuple(
            v for v in plan.victims if v not in unit_keys))
        row.plan = json.dumps(plan.as_dict(), sort_keys=True)
    return plan


def stored_plan(row: ScaleRow) -> Optional[ScalePlan]:
    doc = plan_of(row)
    try:
        return ScalePlan.from_dict(doc) if doc else None
    except (KeyError, TypeError, ValueError) as exc:
        LOG.error("scale request %d has an unreadable plan: %s", row.id, exc)
        return None


def wait_scale(row: ScaleRow, reason: Reason, detail: str) -> list[Decision]:
    if row.wait_reason == reason.value:
        return []
    row.wait_reason = reason.value
    return [scale_decision(row, Action.WAIT, reason, detail)]
