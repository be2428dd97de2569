"""Storm guard: when much of a group is sick, the cause is not the units.

The group tolerates max(`max_unhealthy` of its size, `min_heal_allowed`)
unhealthy units: a percentage alone would make a 1-unit group's only
failure a storm (floor(1 x 50 %) = 0).
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import UnitContext
from vitrage_selfheal.model import Action, Decision, Reason


class StormGuard:
    def check(self, ctx: UnitContext) -> Optional[Decision]:
        sick = ctx.view.unhealthy_in_group(ctx.unit.group_key)
        limit = ctx.policy.storm_limit(ctx.unit.group_size)
        if len(sick) <= limit:
            return None
        size = ctx.unit.group_size or "unknown"
        return ctx.decide(Action.HOLD, Reason.STORM_GUARD,
                          f"{len(sick)} of {size} units of group "
                          f"{ctx.unit.group_key} unhealthy; max_unhealthy "
                          f"{ctx.policy.max_unhealthy} (at least "
                          f"{ctx.policy.min_heal_allowed}) allows {limit}")
