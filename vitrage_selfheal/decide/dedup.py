"""No second heal of a unit that is being, or was just, healed."""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import UnitContext
from vitrage_selfheal.model import Action, Decision, Reason


class AlreadyHealing:
    def check(self, ctx: UnitContext) -> Optional[Decision]:
        intent = ctx.view.open_intent(ctx.unit.unit_key)
        if intent is None:
            return None
        where = f"batch {intent.batch_id}" if intent.batch_id else "queue"
        return ctx.decide(Action.SKIP, Reason.ALREADY_HEALING,
                          f"heal of incident {intent.incident} in {where} "
                          f"({intent.state})")


class Cooldown:
    def check(self, ctx: UnitContext) -> Optional[Decision]:
        healed = ctx.unit.last_healed_at
        if healed is None or ctx.now - healed >= ctx.policy.cooldown:
            return None
        until = healed + ctx.policy.cooldown
        return ctx.decide(Action.HOLD, Reason.COOLDOWN,
                          f"healed {ctx.now - healed:.0f}s ago, cooldown "
                          f"{ctx.policy.cooldown:.0f}s", until=until)


class UnitGrace:
    """A unit that came up (scale-out, replacement) less than unit_grace
    ago is still booting: its alarms say nothing yet."""

    def check(self, ctx: UnitContext) -> Optional[Decision]:
        since = ctx.unit.warming_since
        grace = ctx.policy.unit_grace
        if since is None or ctx.now - since >= grace:
            return None
        how = "replaced" if since == ctx.unit.last_healed_at else "created"
        return ctx.decide(Action.HOLD, Reason.UNIT_GRACE,
                          f"{how} {ctx.now - since:.0f}s ago, unit_grace "
                          f"{grace:.0f}s", until=since + grace)
