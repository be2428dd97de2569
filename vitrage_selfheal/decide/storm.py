"""Storm guard: when much of a group is sick, the cause is not the units."""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.reasons import Action, Decision, Reason
from vitrage_selfheal.decide.stage import Context


def storm_limit(ctx: Context) -> int:
    return ctx.policy.max_unhealthy.limit(
        ctx.unit.group_size, ctx.policy.max_unhealthy_unknown_size)


class StormGuard:
    def check(self, ctx: Context) -> Optional[Decision]:
        sick = ctx.tx.unhealthy_in_group(ctx.unit.group_key)
        limit = storm_limit(ctx)
        if len(sick) <= limit:
            return None
        size = ctx.unit.group_size or "unknown"
        return ctx.decide(Action.HOLD, Reason.STORM_GUARD,
                          f"{len(sick)} of {size} units of group "
                          f"{ctx.unit.group_key} unhealthy, max_unhealthy "
                          f"{ctx.policy.max_unhealthy} allows {limit}")
