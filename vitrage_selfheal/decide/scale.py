"""Stages of a scale request: merged into the group's open request, held
by the scaling cooldown, and bounded by the group's own min/max.

Admission (no Heat call) merges and cools down; the bounds are checked
when the operation forms, with the group as Heat shows it then.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.view import HistoryView
from vitrage_selfheal.model import (
    Action,
    Decision,
    GroupInfo,
    Reason,
    ScaleRequest,
)


@dataclasses.dataclass(frozen=True)
class ScaleContext:
    view: HistoryView
    now: float
    policy: Policy
    request: ScaleRequest

    def decide(self, action: Action, reason: Reason,
               detail: str = "", until: Optional[float] = None) -> Decision:
        return Decision(action, reason, detail,
                        root_stack_id=self.request.group.root_stack_id,
                        until=until)


class ScaleMerge:
    """One open request per group: votes of the same direction join it,
    an operator's request adds its delta, the opposite direction replaces
    a request not yet in an operation."""

    def check(self, ctx: ScaleContext) -> Optional[Decision]:
        open_ = ctx.view.open_scale(ctx.request.group.key)
        if open_ is None:
            return None
        same = (open_.delta > 0) == (ctx.request.delta > 0)
        if same:
            return ctx.decide(
                Action.SKIP, Reason.SCALE_MERGED,
                f"{ctx.request.direction} joins request {open_.id} "
                f"({open_.delta:+d}, {open_.state})")
        if open_.batch_id is not None:
            return ctx.decide(
                Action.SKIP, Reason.SCALE_MERGED,
                f"{ctx.request.direction} dropped: request {open_.id} "
                f"({open_.delta:+d}) is already in operation "
                f"{open_.batch_id}; it is asked again if still needed")
        return None


class ScaleCooldown:
    def check(self, ctx: ScaleContext) -> Optional[Decision]:
        if ctx.request.manual:
            return None
        last = ctx.view.last_scaled(ctx.request.group.key)
        cooldown = ctx.policy.scale_cooldown
        if last is None or ctx.now - last >= cooldown:
            return None
        return ctx.decide(
            Action.SKIP, Reason.SCALE_COOLDOWN,
            f"group scaled {ctx.now - last:.0f}s ago, scale_cooldown "
            f"{cooldown:.0f}s", until=last + cooldown)


SCALE_ADMISSION = (ScaleMerge(), ScaleCooldown())


@dataclasses.dataclass(frozen=True)
class Bounded:
    """What a request becomes within the group's bounds."""

    target: int
    decision: Optional[Decision]    # AT_MAX / AT_MIN / SCALE_UNSUPPORTED


def bound(delta: int, group: GroupInfo, root_stack_id: str) -> Bounded:
    """The size to reach: current size + delta, clipped to [min, max]; a
    decision instead when nothing can move."""
    def stop(reason: Reason, detail: str) -> Bounded:
        return Bounded(group.size, Decision(Action.SKIP, reason, detail,
                                            root_stack_id=root_stack_id))

    if group.method is None:
        return stop(Reason.SCALE_UNSUPPORTED, group.unsupported
                    or "the group has no scaling policy and no "
                       "parameter behind desired_capacity")
    wanted = group.size + delta
    if delta > 0 and group.max_size is not None:
        if group.size >= group.max_size:
            return stop(Reason.AT_MAX, f"group at {group.size}, max_size "
                                       f"{group.max_size}")
        wanted = min(wanted, group.max_size)
    if delta < 0:
        if group.size <= group.min_size:
            return stop(Reason.AT_MIN, f"group at {group.size}, min_size "
                                       f"{group.min_size}")
        wanted = max(wanted, group.min_size)
    return Bounded(wanted, None)
